"""The shapes of real messages, before the policies answer them (put in place of Rasa's
`MessageProcessor.handle_message` by components/rasa_patches.py, inside the conversation's lock, so
every channel gets it). botox_clinic/question_parts.py proposes the pieces; the classifier decides.

- **More than one question** ("is it quick, and is the needle painful?"): each part gets its own
  answer, as if the patient had sent the parts one after another. Only when the whole message is no
  red-flag report and at least two parts are understood, each on its own, as different questions
  (intents ask_*). Escalation is the red-flag detectors' verdict on the whole message, never a
  part's: a part alone loses the context that made the whole no report ("me pusieron botox ayer en
  la frente, ¿ya puedo ir al gym?" escalated its first part), and on the red-flag corpus's training
  part, parts read alone escalated 90 look-alikes and caught no report the whole had missed. Each
  part is a turn of its own, so a follow-up part ("... and do they go away by themselves?") is read
  against the part before it. Every part's UserUttered carries the whole message in its metadata
  (PARTS_KEY).
- **A long message not understood as a whole** ("I've got the kids to pick up at 3, so roughly how
  long is a treatment?"): the question in it is found clause by clause. The turn keeps the whole
  message, its entities (a treatment type named in the context) and its red-flag assessment; only
  the intent is the best clause's, when that is a question understood surely. A report in a
  clause is not escalated from here: the red-flag detectors judged the whole message, context and
  all, and a clause alone loses the negation or the other person that made it no report.
- **A long message whose context pulls it to a neighbouring question** ("my mum is driving me and
  wants to know whether to wait in the car, how long will I be in there?" read as downtime): the
  question it ends with, when that is understood surely and more surely than the whole, is the
  turn's intent, kept the same way. Only when the whole is a question too: "I've got a bruise, how
  long will it last?" is about the bruise.
- **A question that names a red-flag symptom in passing** ("will the needle hurt? I go faint at
  the sight of them"): the red-flag detector answers a symptom only mentioned with the side-effects
  answer and its emergency safety net (and "Is this happening to you now?" where it is unsure);
  where the classifier understood another question surely, that question is answered first, then
  the safety net, as two turns. The first turn leaves the question "happening now?" to the second.
- **A message the classifier is unsure of** ("does it wear of"): where its two likeliest readings
  are both questions, fairly likely each (UNSURE_PAIR_CONFIDENCE), both are answered, likelier
  first, as two turns, instead of the topic menu: the patient reads the answer they wanted next to a
  neighbouring one rather than having to rephrase.

Otherwise the message is one turn, understood once, as before.
"""
from __future__ import annotations

from itertools import chain
from typing import Any, Dict, Iterable, List, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY

from botox_clinic.question_parts import clauses, split_questions
from components.red_flag_detector import CLASSIFIED_KEY, FALLBACK_INTENT, POSSIBLE_ENTITY, REPORT_INTENT, SAFETY_NET_INTENT

PARTS_KEY = "message_parts"
QUESTION_PREFIX = "ask_"
# A part or clause answered on its own must be understood at least this surely: shorter than the
# message, it is surer than the FallbackClassifier's threshold (config.yml) asks of a whole message.
PART_CONFIDENCE = 0.6
# The clauses of a longer message tried for its question: the last ones, where a patient's question
# usually comes after the context.
MAX_CLAUSES = 6
# The question a message ends with replaces the whole's reading from this confidence, and only when
# it is this much surer than the whole. Chosen on the dev sets' 313 one-part questions: at 0.8 or 0.9
# with 0.1 it changes the same 5 readings, 4 to the right answer and none to a wrong one (at 0.2: 4, 3).
END_QUESTION_CONFIDENCE = 0.9
END_QUESTION_MARGIN = 0.1
# A message the classifier is unsure of (below the FallbackClassifier's threshold, or two intents
# within its ambiguity margin) whose two likeliest readings are both questions, each at least this
# likely, gets both answers instead of the topic menu. Chosen on the five-fold cross-validation's
# test predictions: of the unsure messages read so, the right intent was one of the two for 30 of 34
# English ones and 61 of 76 Spanish ones (at 0.2: 30 of 35, 83 of 115; at 0.3: 21 of 22, 40 of 48).
UNSURE_PAIR_CONFIDENCE = 0.25


def handle_message(rasa_handle_message):
    """Rasa's `MessageProcessor.handle_message`, run once per answered part of the message."""
    async def handle(self: MessageProcessor, message: UserMessage) -> Optional[List[Dict[str, Any]]]:
        replies = None
        for part in await _turns(self, message):
            replies = await rasa_handle_message(self, part)  # one output channel: it collects them all
        return replies

    return handle


async def _turns(processor: MessageProcessor, message: UserMessage) -> List[UserMessage]:
    """The message as one turn, or its parts as turns in the order they are answered."""
    if message.parse_data or not message.text or message.text.startswith("/"):  # a button's payload
        return [message]
    whole = await processor.parse_message(message)
    if _intent(whole) == REPORT_INTENT:
        return [_turn(message, message.text, whole, message.message_id)]
    asked = whole.get(CLASSIFIED_KEY) or {}
    if _intent(whole) == SAFETY_NET_INTENT and _is_sure_question({INTENT: asked}) and asked[INTENT_NAME_KEY] != SAFETY_NET_INTENT:
        entities = [e for e in whole.get(ENTITIES) or [] if e.get("entity") != POSSIBLE_ENTITY]
        return _part_turns(message, [(message.text, {**_read_as(whole, asked), ENTITIES: entities}), (message.text, whole)])
    parts, pieces = split_questions(message.text), clauses(message.text)[-MAX_CLAUSES:]
    if parts:
        answered = await _answered_parts(processor, message, parts)
        if answered:
            return answered
    question = None
    if _intent(whole) == FALLBACK_INTENT and pieces:
        question = await _question_among(processor, message, pieces)
    elif _intent(whole).startswith(QUESTION_PREFIX) and len(pieces) > 1:
        question = await _question_at_end(processor, message, pieces, whole)
    if question:
        whole = {**whole, INTENT: question[INTENT], INTENT_RANKING_KEY: question.get(INTENT_RANKING_KEY, [])}
    elif _intent(whole) == FALLBACK_INTENT:
        likeliest = _likeliest_questions(whole)
        if likeliest:
            return _part_turns(message, [(message.text, parse) for parse in likeliest])
    return [_turn(message, message.text, whole, message.message_id)]


async def _answered_parts(processor: MessageProcessor, message: UserMessage, texts: List[str]) -> List[UserMessage]:
    """The parts understood as different questions, as turns; [] unless there are two."""
    questions, seen = [], set()
    for text in texts:
        parse = await _parse(processor, message, text)
        if _is_sure_question(parse) and _intent(parse) not in seen:
            seen.add(_intent(parse))
            questions.append((text, parse))
    return _part_turns(message, questions) if len(questions) > 1 else []


def _part_turns(message: UserMessage, answered: List) -> List[UserMessage]:
    """Each (text, parse) as a turn of its own, in order; the first keeps the message's id, and every
    one carries the whole message (PARTS_KEY)."""
    return [_turn(message, text, parse, message.message_id if number == 0 else None,
                  {PARTS_KEY: {"part": number + 1, "of": len(answered), "message": message.text}})
            for number, (text, parse) in enumerate(answered)]


async def _question_among(processor: MessageProcessor, message: UserMessage,
                          pieces: List[str]) -> Optional[Dict[str, Any]]:
    """The surest question among the clauses and pairs of neighbouring clauses, if one is sure."""
    candidates = chain(pieces, (f"{first}, {second}" for first, second in zip(pieces, pieces[1:])))
    return await _surest_question(processor, message, candidates)


async def _question_at_end(processor: MessageProcessor, message: UserMessage, pieces: List[str],
                           whole: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The last clause, or the last two, when a different question understood surely and more surely
    than the whole message."""
    ends = [pieces[-1]] + ([f"{pieces[-2]}, {pieces[-1]}"] if len(pieces) > 2 else [])  # two: the whole
    return await _surest_question(processor, message, ends,
                                  max(END_QUESTION_CONFIDENCE, _confidence(whole) + END_QUESTION_MARGIN), _intent(whole))


async def _surest_question(processor: MessageProcessor, message: UserMessage, texts: Iterable[str],
                           confidence: float = PART_CONFIDENCE, other_than: str = "") -> Optional[Dict[str, Any]]:
    """The parse of the text understood most surely as a question (intent ask_*, other than
    `other_than`) at `confidence` or more, if any."""
    parses = [await _parse(processor, message, text) for text in texts]
    sure = [parse for parse in parses
            if _is_sure_question(parse) and _confidence(parse) >= confidence and _intent(parse) != other_than]
    return max(sure, key=_confidence, default=None)


def _likeliest_questions(whole: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The message's two likeliest readings, as parses, when both are questions at
    UNSURE_PAIR_CONFIDENCE or more; else []."""
    ranking = [r for r in whole.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != FALLBACK_INTENT][:2]
    if len(ranking) < 2 or not all(r[INTENT_NAME_KEY].startswith(QUESTION_PREFIX)
                                   and r[PREDICTED_CONFIDENCE_KEY] >= UNSURE_PAIR_CONFIDENCE for r in ranking):
        return []
    return [_read_as(whole, reading) for reading in ranking]


def _read_as(whole: Dict[str, Any], reading: Dict[str, Any]) -> Dict[str, Any]:
    """The whole message's parse (entities, red-flag assessment) read as this one intent."""
    return {**whole, INTENT: dict(reading), INTENT_RANKING_KEY: [dict(reading)]}


async def _parse(processor: MessageProcessor, message: UserMessage, text: str) -> Dict[str, Any]:
    return await processor.parse_message(_turn(message, text, None, None))


def _intent(parse: Dict[str, Any]) -> str:
    return (parse.get(INTENT) or {}).get(INTENT_NAME_KEY) or ""


def _confidence(parse: Dict[str, Any]) -> float:
    return (parse.get(INTENT) or {}).get(PREDICTED_CONFIDENCE_KEY) or 0.0


def _is_sure_question(parse: Dict[str, Any]) -> bool:
    return _intent(parse).startswith(QUESTION_PREFIX) and _confidence(parse) >= PART_CONFIDENCE


def _turn(message: UserMessage, text: str, parse: Optional[Dict[str, Any]], message_id: Optional[str],
          metadata: Optional[Dict[str, Any]] = None) -> UserMessage:
    return UserMessage(text, message.output_channel, message.sender_id, parse, message.input_channel, message_id,
                       {**(message.metadata or {}), **(metadata or {})})
