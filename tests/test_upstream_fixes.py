"""The faster action-reply validation accepts and rejects exactly what Rasa's own does."""
import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import components  # noqa: F401  (applies the fixes, as loading the model does)
from components import upstream_fixes

SESSION_START_REPLY = {
    "events": [{"event": "session_started"}, {"event": "slot", "name": "clinic_name", "value": "Demo"},
               {"event": "action", "name": "action_listen"}],
    "responses": [{"response": "utter_welcome", "clinic_name": "Demo"}],
}


def test_the_fix_is_in_place():
    assert RemoteAction._validate_action_result is upstream_fixes._validate_action_result


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
