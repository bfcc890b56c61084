"""More than one question in a message: the proposed parts (botox_clinic/question_parts.py), and,
with the trained model, each part answered on its own, escalation decided on the whole message, and
a single question still one turn (components/message_parts.py)."""
import asyncio
import itertools

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from botox_clinic.question_parts import split_questions
from botox_clinic.settings import get_settings

_senders = itertools.count(1)


@pytest.mark.parametrize("message, parts", [
    ("is it quick, and is the needle painful?", ["is it quick", "is the needle painful?"]),
    ("how long does it last and when will I see it working?", ["how long does it last", "when will I see it working?"]),
    ("what are the side effects? do they go away by themselves?",
     ["what are the side effects?", "do they go away by themselves?"]),
    ("can i drink alcohol n can i exercise", ["can i drink alcohol", "can i exercise"]),
    ("¿duele? y ¿cuánto dura?", ["¿duele?", "¿cuánto dura?"]),
    ("cuanto dura y duele mucho", ["cuanto dura", "duele mucho"]),
])
def test_a_message_is_split_where_a_second_question_starts(message, parts):
    assert split_questions(message) == parts


@pytest.mark.parametrize("message", [
    "how long does botox last?",
    "is it safe and effective",
    "my GP said botox might help my headaches, does it really work for that?",
    "me dijeron que el botox tambien es para cosas medicas, para q mas sirve?",
    "I can't breathe and my throat is closing",
    "",
])
def test_one_question_is_not_split(message):
    assert split_questions(message) == []


def _response(domain, name, language="en"):
    """The response's text for a conversation with no treatment type, as the patient reads it."""
    clinic = get_settings().clinic.template_values()
    variants = domain["responses"][name]
    if language == "en":
        variant = next(v for v in variants if not v.get("condition") and not v.get("channel"))
    else:  # the Spanish variant for no treatment type: that condition is written out or left out
        variant = next(v for v in variants if not v.get("channel") and [
            c for c in v.get("condition") or [] if c != {"type": "slot", "name": "treatment_type", "value": None}
        ] == [{"type": "slot", "name": "language", "value": language}])
    return " ".join(variant["text"].format(**clinic).split())


def _turn(processor, text, sender=None):
    sender = sender or f"parts-{next(_senders)}"
    output = CollectingOutputChannel()
    asyncio.run(processor.handle_message(UserMessage(text, output, sender, input_channel="rest")))
    return sender, output.messages


def _texts(replies):
    return [" ".join(r["text"].split()) for r in replies if r.get("text")][1:]  # after the welcome


def _escalation(replies):
    return next((r["custom"] for r in replies if isinstance(r.get("custom"), dict)
                 and r["custom"].get("type") == "escalation"), None)


def test_two_questions_get_two_answers_in_order(processor, settings, domain):
    _, replies = _turn(processor, "how long does it take to start working, and is the injection painful?")
    assert _texts(replies) == [_response(domain, "utter_results_onset"), _response(domain, "utter_sensation")]
    assert _escalation(replies) is None


def test_each_part_is_recorded_with_the_whole_message(processor, settings):
    message = "how long does it take to start working, and is the injection painful?"
    sender, _ = _turn(processor, message)
    tracker = asyncio.run(processor.get_tracker(sender))
    said = [event for event in tracker.events if event.type_name == "user"]
    assert [event.text for event in said] == ["how long does it take to start working",
                                              "is the injection painful?"]
    assert [event.metadata["message_parts"] for event in said] == [
        {"part": 1, "of": 2, "message": message}, {"part": 2, "of": 2, "message": message}]


def test_spanish_two_questions_get_two_answers(processor, settings, domain):
    _, replies = _turn(processor, "¿cuánto tiempo tarda en hacer efecto? y ¿duele la inyección?")
    assert _texts(replies)[-2:] == [_response(domain, "utter_results_onset", "es"),
                                    _response(domain, "utter_sensation", "es")]


def test_a_follow_up_part_is_read_against_the_part_before_it(processor, settings, domain):
    _, replies = _turn(processor, "what side effects can botox cause and how long do they last?")
    assert _texts(replies) == [_response(domain, "utter_side_effects"), _response(domain, "utter_mild_side_effect")]


def test_a_red_flag_in_one_part_escalates_before_any_answer(processor, settings, escalations, domain):
    sender, replies = _turn(processor, "how long does botox last? and i cant swallow since this morning")
    payload = _escalation(replies)
    assert payload and payload["tier"] == "emergency"
    assert [e.sender_id for e, _ in escalations().list()] == [sender]
    # Nothing but the welcome before the escalation's instructions and payload.
    before = replies[1:replies.index(next(r for r in replies if r.get("custom")))]
    assert _response(domain, "utter_results_duration") not in [" ".join((r.get("text") or "").split()) for r in before]


@pytest.mark.parametrize("message", [
    "had my crows feet done yesterday. can i wear makeup tonight?",
    "me pusieron botox ayer en la frente, ¿ya puedo ir al gym?",
    "estoy dando pecho, ¿puedo ponerme bótox?",
])
def test_a_question_after_context_does_not_escalate_the_context_read_alone(processor, settings, escalations, message):
    sender, replies = _turn(processor, message)
    assert _escalation(replies) is None
    assert sender not in [e.sender_id for e, _ in escalations().list()]


def test_one_question_is_one_turn(processor, settings, domain):
    sender, replies = _turn(processor, "how long does botox last?")
    assert _texts(replies) == [_response(domain, "utter_results_duration")]
    tracker = asyncio.run(processor.get_tracker(sender))
    assert [event.text for event in tracker.events if event.type_name == "user"] == ["how long does botox last?"]


def test_a_question_naming_a_symptom_in_passing_gets_its_answer_then_the_safety_net(processor, settings, domain):
    _, replies = _turn(processor, "will the needle hurt? I go faint at the sight of them")
    texts = _texts(replies)
    assert texts[:2] == [_response(domain, "utter_sensation"), _response(domain, "utter_side_effects")]
    assert _escalation(replies) is None


def test_the_same_question_twice_is_answered_once(processor, settings, domain):
    _, replies = _turn(processor, "how long does botox last and how long will the results last?")
    assert _texts(replies) == [_response(domain, "utter_results_duration")]


class _Classifier:
    """A stand-in for the processor's parse: each text's intent as given, anything else nlu_fallback."""

    def __init__(self, intents, entities=()):
        self.intents, self.entities, self.parsed = intents, list(entities), []

    async def parse_message(self, message, tracker=None):
        self.parsed.append(message.text)
        name, confidence = self.intents.get(message.text, ("nlu_fallback", 0.45))
        return {"text": message.text, "intent": {"name": name, "confidence": confidence},
                "intent_ranking": [{"name": name, "confidence": confidence}],
                "entities": self.entities if message.text == WHOLE else []}


WHOLE = "we fly out to see family on saturday and I get anxious, so how soon after botox can I exercise?"


def _turns(classifier, text):
    from components.message_parts import _turns as turns

    return asyncio.run(turns(classifier, UserMessage(text, CollectingOutputChannel(), "unit", input_channel="rest")))


def test_a_long_message_not_understood_whole_is_answered_by_its_question_clause():
    treatment = {"entity": "treatment_type", "value": "cosmetic"}
    classifier = _Classifier({"so how soon after botox can I exercise?": ("ask_aftercare", 0.9),
                              "we fly out to see family on saturday and I get anxious": ("greet", 0.7)}, [treatment])
    [turn] = _turns(classifier, WHOLE)
    assert turn.text == WHOLE  # the patient's message, as written
    assert turn.parse_data["intent"] == {"name": "ask_aftercare", "confidence": 0.9}
    assert turn.parse_data["entities"] == [treatment]  # the whole message's


def test_a_clause_understood_unsurely_leaves_the_message_to_the_fallback():
    [turn] = _turns(_Classifier({"so how soon after botox can I exercise?": ("ask_aftercare", 0.5)}), WHOLE)
    assert turn.parse_data["intent"]["name"] == "nlu_fallback"


@pytest.mark.parametrize("whole, end, read_as", [
    # the context pulled the whole to a neighbour; the question it ends with is sure, and surer
    (("ask_downtime", 0.7), ("ask_aftercare", 0.95), "ask_aftercare"),
    # the end question not sure enough, or not surer enough than the whole: the whole stands
    (("ask_downtime", 0.7), ("ask_aftercare", 0.85), "ask_downtime"),
    (("ask_downtime", 0.88), ("ask_aftercare", 0.95), "ask_downtime"),
    # the whole is no question ("I've got a bruise, how long will it last?" is about the bruise)
    (("report_mild_side_effect", 0.7), ("ask_results_duration", 0.99), "report_mild_side_effect"),
])
def test_a_long_message_is_read_by_the_question_it_ends_with_only_when_that_is_surer(whole, end, read_as):
    treatment = {"entity": "treatment_type", "value": "cosmetic"}
    classifier = _Classifier({WHOLE: whole, "so how soon after botox can I exercise?": end}, [treatment])
    [turn] = _turns(classifier, WHOLE)
    assert turn.text == WHOLE and turn.parse_data["intent"]["name"] == read_as
    assert turn.parse_data["entities"] == [treatment]


def test_a_report_in_a_clause_is_left_to_the_detectors_verdict_on_the_whole():
    classifier = _Classifier({"so how soon after botox can I exercise?": ("report_red_flag", 1.0)})
    [turn] = _turns(classifier, WHOLE)
    assert turn.parse_data["intent"]["name"] == "nlu_fallback"


def test_a_red_flag_report_as_a_whole_is_one_turn_understood_once():
    text = "how long does it last and can i still swallow ok"
    classifier = _Classifier({text: ("report_red_flag", 1.0)})
    [turn] = _turns(classifier, text)
    assert turn.parse_data["intent"]["name"] == "report_red_flag" and classifier.parsed == [text]


def test_a_part_read_alone_as_a_report_does_not_escalate_what_the_whole_did_not():
    text = "had my crows feet done yesterday. how long does it last and can i wear makeup tonight?"
    classifier = _Classifier({text: ("ask_results_duration", 0.8), "had my crows feet done yesterday.": ("report_red_flag", 1.0),
                              "how long does it last": ("ask_results_duration", 0.9),
                              "can i wear makeup tonight?": ("ask_aftercare", 0.9)})
    turns = _turns(classifier, text)
    assert [t.text for t in turns] == ["how long does it last", "can i wear makeup tonight?"]
    assert [t.parse_data["intent"]["name"] for t in turns] == ["ask_results_duration", "ask_aftercare"]


class _UnsureClassifier(_Classifier):
    """The classifier unsure of the message: nlu_fallback, then the ranking given."""

    def __init__(self, ranking):
        super().__init__({})
        self.ranking = ranking

    async def parse_message(self, message, tracker=None):
        self.parsed.append(message.text)
        ranking = [{"name": "nlu_fallback", "confidence": 0.45}] + [{"name": n, "confidence": c} for n, c in self.ranking]
        return {"text": message.text, "intent": ranking[0], "intent_ranking": ranking, "entities": []}


def test_an_unsure_reading_between_two_questions_gets_both_answers_likelier_first():
    turns = _turns(_UnsureClassifier([("ask_results_duration", 0.33), ("ask_uses", 0.3), ("ask_cost", 0.1)]),
                   "does it wear of")
    assert [t.parse_data["intent"]["name"] for t in turns] == ["ask_results_duration", "ask_uses"]
    assert [t.text for t in turns] == ["does it wear of", "does it wear of"]
    assert [t.metadata["message_parts"]["part"] for t in turns] == [1, 2]


@pytest.mark.parametrize("ranking", [
    [("ask_results_duration", 0.4), ("ask_uses", 0.2)],  # the second reading too unlikely
    [("ask_results_duration", 0.4), ("greet", 0.3)],  # not both questions
])
def test_an_unsure_reading_otherwise_stays_with_the_topic_menu(ranking):
    [turn] = _turns(_UnsureClassifier(ranking), "does it wear of")
    assert turn.parse_data["intent"]["name"] == "nlu_fallback"


def test_a_button_payload_is_never_split():
    classifier = _Classifier({})
    [turn] = _turns(classifier, '/start_walkthrough{"treatment_type": "medical"}')
    assert classifier.parsed == [] and turn.parse_data is None


def _safety_net_parse(text, classified):
    """The parse of a message the red-flag detector routed to the safety net, the classifier having read it
    as `classified`."""
    return {"text": text, "intent": {"name": "ask_side_effects", "confidence": 1.0},
            "intent_ranking": [{"name": "ask_side_effects", "confidence": 1.0}],
            "entities": [{"entity": "possible_red_flag", "value": "emergency", "start": 0, "end": len(text)}],
            "classified_intent": {"name": classified[0], "confidence": classified[1]}}


class _SafetyNetClassifier(_Classifier):
    """The whole message routed to the safety net; its parts not understood."""

    def __init__(self, text, classified):
        super().__init__({})
        self.text, self.classified = text, classified

    async def parse_message(self, message, tracker=None):
        if message.text != self.text:
            return await super().parse_message(message, tracker)
        self.parsed.append(message.text)
        return _safety_net_parse(message.text, self.classified)


def test_a_question_naming_a_symptom_in_passing_is_answered_then_gets_the_safety_net():
    text = "will the needle hurt? I go faint at the sight of them"
    turns = _turns(_SafetyNetClassifier(text, ("ask_sensation", 0.8)), text)
    assert [t.parse_data["intent"]["name"] for t in turns] == ["ask_sensation", "ask_side_effects"]
    assert [t.text for t in turns] == [text, text]
    assert [t.metadata["message_parts"]["part"] for t in turns] == [1, 2]
    # "Is this happening to you now?" is asked once, after the safety net.
    assert [[e["entity"] for e in t.parse_data["entities"]] for t in turns] == [[], ["possible_red_flag"]]


@pytest.mark.parametrize("classified", [("ask_sensation", 0.5), ("ask_side_effects", 0.9), ("greet", 0.9)])
def test_the_safety_net_alone_answers_when_the_classifier_was_unsure_or_read_the_same(classified):
    text = "will the needle hurt? I go faint at the sight of them"
    [turn] = _turns(_SafetyNetClassifier(text, classified), text)
    assert turn.parse_data["intent"]["name"] == "ask_side_effects"
