"""Workarounds for measured defects in Rasa 3.6.21, applied when the server loads our components.

- Every custom action's reply is validated with `jsonschema.validate`, which first re-checks Rasa's
  large response schema against the JSON Schema meta-schema: 13.6 ms of CPU per call, blocking the
  event loop (action_session_start opens every conversation). A validator built once does the same
  check in 1.3 ms and raises the same error.
- Every stored event read back (the whole session, on every turn) finds its class by walking all
  of `Event`'s subclasses again: 3% of a turn's CPU. Classes found are remembered by type name.
"""
from functools import lru_cache
from typing import Any, Dict, Optional, Text, Type

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

_upstream_validate_action_result = RemoteAction._validate_action_result


@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    return jsonschema.validators.validator_for(schema)(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    if _action_response_validator().is_valid(result):
        return True
    # Invalid replies are rare: let Rasa raise its own error with its explanation.
    return _upstream_validate_action_result(self, result)


RemoteAction._validate_action_result = _validate_action_result


_upstream_resolve_by_type = Event.resolve_by_type
_event_classes: Dict[Text, Type[Event]] = {}


def _resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _event_classes.get(type_name)
    if found is None:
        # Rasa's own lookup, with its default and its error for an unknown name; only a class that
        # really has this type name is remembered.
        found = _upstream_resolve_by_type(type_name, default)
        if found is not None and getattr(found, "type_name", None) == type_name:
            _event_classes[type_name] = found
    return found


Event.resolve_by_type = staticmethod(_resolve_by_type)
