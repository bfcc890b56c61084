"""Workarounds for measured defects in Rasa 3.6.21, applied when the server loads our components.

- Every custom action's reply is validated with `jsonschema.validate`, which first re-checks Rasa's
  large response schema against the JSON Schema meta-schema: 13.6 ms of CPU per call, blocking the
  event loop (action_session_start opens every conversation). A validator built once does the same
  check in 1.3 ms and raises the same error.
"""
from functools import lru_cache
from typing import Any, Dict, Text

import jsonschema
from rasa.core.actions.action import RemoteAction

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
