"""The faster action-reply validation and event-class lookup give exactly what Rasa's own do."""
import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

import components  # noqa: F401  (applies the fixes, as loading the model does)
from components import upstream_fixes

SESSION_START_REPLY = {
    "events": [{"event": "session_started"}, {"event": "slot", "name": "clinic_name", "value": "Demo"},
               {"event": "action", "name": "action_listen"}],
    "responses": [{"response": "utter_welcome", "clinic_name": "Demo"}],
}


def test_the_fixes_are_in_place():
    assert RemoteAction._validate_action_result is upstream_fixes._validate_action_result
    assert Event.resolve_by_type is upstream_fixes._resolve_by_type


def test_a_valid_reply_passes():
    assert RemoteAction("action_session_start", None)._validate_action_result(SESSION_START_REPLY)


@pytest.mark.parametrize("reply", [
    {"events": [{"event": "slot", "name": 3}]},
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"responses": [["not an object"]]},
])
def test_an_invalid_reply_raises_rasas_error(reply):
    with pytest.raises(jsonschema.ValidationError) as raised:
        RemoteAction("action_session_start", None)._validate_action_result(reply)
    assert "Failed to validate Action server response" in raised.value.message
    # ...and the reference implementation agrees that it is invalid.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())


def test_every_event_type_resolves_to_rasas_class_every_time():
    for _ in range(2):  # the second round comes from what the first remembered
        for cls in all_subclasses(Event):
            assert Event.resolve_by_type(cls.type_name) is upstream_fixes._upstream_resolve_by_type(cls.type_name)


def test_an_unknown_event_type_gets_rasas_default_or_error():
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert "no_such_event" not in upstream_fixes._event_classes
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


def test_a_stored_conversation_reads_back_the_same():
    events = [UserUttered("hi", {"name": "greet", "confidence": 0.9}), ActionExecuted("utter_greet"),
              SlotSet("treatment_type", "medical")]
    assert [Event.from_parameters(event.as_dict()) for event in events] == events
