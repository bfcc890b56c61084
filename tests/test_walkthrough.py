"""The "what to expect" guide: parts in order, tailored, interruptible, and ended by a red flag."""
import asyncio

import pytest

from actions.walkthrough import ActionWalkthrough


def _next_step(make_tracker, dispatcher, domain, intent, **slots):
    tracker = make_tracker("...", intent=intent, slots=slots)
    events = asyncio.run(ActionWalkthrough().run(dispatcher, tracker, domain))
    assert dispatcher.messages == []  # utter_walkthrough, run by the rule, does the talking
    [event] = events
    return event["value"]


@pytest.mark.parametrize("intent,step,expected", [
    ("start_walkthrough", None, "before"),
    ("start_walkthrough", "after", "before"),  # asked again: from the start
    ("walkthrough_next", "choose_type", "before"),
    ("walkthrough_next", "before", "during"),
    ("walkthrough_next", "during", "after"),
    ("walkthrough_next", "after", "checklist"),
    ("walkthrough_next", "checklist", "before"),
    ("walkthrough_next", None, "before"),
    ("walkthrough_stop", "during", None),
    # A plain yes / no straight after a part (the rules route only those here)
    ("affirm", "before", "during"),
    ("affirm", "checklist", None),  # "ok" to the checklist finishes the guide, no restart
    ("affirm", None, None),
    ("deny", "during", None),
])
def test_the_guide_moves_through_its_parts(make_tracker, dispatcher, domain, intent, step, expected):
    assert _next_step(make_tracker, dispatcher, domain, intent, treatment_type="cosmetic",
                      walkthrough_step=step) == expected


def _condition(variant) -> dict:
    return {c["name"]: c["value"] for c in variant.get("condition") or []}


def _language(variant) -> str:
    """English unless conditioned on another language (the English default has no condition)."""
    return _condition(variant).get("language", "en")


def test_an_unknown_treatment_type_is_asked_with_buttons_that_restart_the_guide(make_tracker, dispatcher, domain):
    assert _next_step(make_tracker, dispatcher, domain, "start_walkthrough") == "choose_type"
    for language in ("en", "es"):
        asks = [v for v in domain["responses"]["utter_walkthrough"]
                if _condition(v) == {"walkthrough_step": "choose_type", "language": language}]
        assert len([v for v in asks if "channel" not in v]) == 1, language
        for ask in asks:  # and an SMS variant, if there is one
            assert ask["buttons"] and all(b["payload"].startswith("/start_walkthrough{") for b in ask["buttons"])


CONTROLS = {"en": ["Next", "I have a question", "End the guide"],
            "es": ["Siguiente", "Tengo una pregunta", "Terminar la guía"]}
FINISHED = {"en": "what to expect", "es": "qué esperar"}
FIFTEEN_MINUTES = {"en": "15 minutes", "es": "15 minutos"}


def test_every_step_has_a_medical_and_a_cosmetic_version_and_the_parts_offer_next(domain):
    shown = {}  # (language, channel, step, treatment type) -> variant
    for variant in domain["responses"]["utter_walkthrough"]:
        condition = _condition(variant)
        key = (_language(variant), variant.get("channel"), condition.get("walkthrough_step"),
               condition.get("treatment_type"))
        assert key not in shown, key
        shown[key] = variant
    for language in ("en", "es"):
        # no step set: says how to see the guide again
        assert FINISHED[language] in shown[(language, None, None, None)]["text"]
        for step in ("before", "during", "after", "checklist"):
            assert {(language, None, step, "medical"), (language, None, step, "cosmetic")} <= shown.keys(), step
        for step in ("before", "during", "after"):
            assert [b["title"] for b in shown[(language, None, step, "medical")]["buttons"]] == CONTROLS[language]
        assert FIFTEEN_MINUTES[language] in shown[(language, None, "during", "cosmetic")]["text"]
        assert FIFTEEN_MINUTES[language] not in shown[(language, None, "during", "medical")]["text"]
    # A shorter SMS version keeps the buttons, and the fact, of the version it stands for.
    for (language, channel, step, treatment), variant in shown.items():
        if channel is not None and (language, None, step, treatment) in shown:
            assert variant.get("buttons") == shown[(language, None, step, treatment)].get("buttons")
            if (step, treatment) == ("during", "cosmetic"):
                assert FIFTEEN_MINUTES[language] in variant["text"]
