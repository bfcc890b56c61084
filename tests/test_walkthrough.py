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


def test_an_unknown_treatment_type_is_asked_with_buttons_that_restart_the_guide(make_tracker, dispatcher, domain):
    assert _next_step(make_tracker, dispatcher, domain, "start_walkthrough") == "choose_type"
    [ask] = [v for v in domain["responses"]["utter_walkthrough"]
             if v.get("condition") == [{"type": "slot", "name": "walkthrough_step", "value": "choose_type"}]]
    assert all(b["payload"].startswith("/start_walkthrough{") for b in ask["buttons"])


def test_every_step_has_a_medical_and_a_cosmetic_version_and_the_parts_offer_next(domain):
    shown = {}
    [finished] = [v for v in domain["responses"]["utter_walkthrough"] if "condition" not in v]
    assert "what to expect" in finished["text"]  # no step set: says how to see the guide again
    for variant in domain["responses"]["utter_walkthrough"]:
        if variant is finished:
            continue
        condition = {c["name"]: c["value"] for c in variant["condition"]}
        shown[(condition["walkthrough_step"], condition.get("treatment_type"))] = variant
    for step in ("before", "during", "after", "checklist"):
        assert {(step, "medical"), (step, "cosmetic")} <= shown.keys(), step
    for step in ("before", "during", "after"):
        assert [b["title"] for b in shown[(step, "medical")]["buttons"]] == ["Next", "I have a question",
                                                                             "End the guide"]
    assert "15 minutes" in shown[("during", "cosmetic")]["text"]
    assert "15 minutes" not in shown[("during", "medical")]["text"]
