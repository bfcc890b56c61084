"""Workarounds for measured defects in Rasa 3.6.21; components/rasa_patches.py puts them in place.

- Every custom action's reply is validated with `jsonschema.validate`, which first re-checks Rasa's
  large response schema against the JSON Schema meta-schema: 13.6 ms of CPU per call, blocking the
  event loop. A validator built once does the same check in 1.3 ms and raises the same error.
- Every stored event read back (the whole session, on every turn) finds its class by walking all
  of `Event`'s subclasses again: 3% of a turn's CPU. Classes found are remembered by type name.
- Every call to the action server made a new HTTP client session, opened a new connection and
  closed both. Each connect is one more wait in the event loop's queue behind the other
  conversations' turns. A session is now kept per endpoint settings and event loop, and its
  connections are reused.
- The model graph (the NLU pipeline once a turn, the policies two or three times) ran through
  dask's synchronous scheduler, which orders and tracks the nodes anew on every run: about a tenth of
  a turn's Python time. The nodes now run one after another in an order worked out once per set of
  targets; dask's synchronous scheduler ran them one at a time too, so results are the same.
"""
import asyncio
import weakref
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import aiohttp
import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

_upstream_validate_action_result = RemoteAction._validate_action_result


@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    return jsonschema.validators.validator_for(schema)(schema)


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    if _action_response_validator().is_valid(result):
        return True
    # Invalid replies are rare: let Rasa raise its own error with its explanation.
    return _upstream_validate_action_result(self, result)


_upstream_resolve_by_type = Event.resolve_by_type
_event_classes: Dict[Text, Type[Event]] = {}


def resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _event_classes.get(type_name)
    if found is None:
        # Rasa's own lookup, with its default and its error for an unknown name; only a class that
        # really has this type name is remembered.
        found = _upstream_resolve_by_type(type_name, default)
        if found is not None and getattr(found, "type_name", None) == type_name:
            _event_classes[type_name] = found
    return found


# Shorter than the idle timeout of the servers we call (Sanic's default, for the action server, is 5 s),
# so the client closes an idle connection first, never sending on one the server is closing.
_IDLE_CONNECTION_SECONDS = 4.0
_kept_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Dict[Any, aiohttp.ClientSession]]" = (
    weakref.WeakKeyDictionary())


class _KeptOpen:
    """What `async with endpoint.session() as session` gets: the kept session, left open on exit."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


def kept_session(self: EndpointConfig) -> _KeptOpen:
    # A session belongs to one event loop; what it is made from (headers, authentication) is the key.
    settings = (tuple(sorted(self.headers.items())), tuple(sorted(self.basic_auth.items())))
    sessions = _kept_sessions.setdefault(asyncio.get_running_loop(), {})
    if settings not in sessions or sessions[settings].closed:
        # As Rasa's EndpointConfig.session makes it, plus the idle limit.
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        sessions[settings] = aiohttp.ClientSession(
            headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=_IDLE_CONNECTION_SECONDS))
    return _KeptOpen(sessions[settings])


def _execution_order(schema: GraphSchema) -> List[Tuple[Text, Tuple[Text, ...]]]:
    """Each node of the schema with the names of what it needs, after the nodes it needs."""
    order: List[Tuple[Text, Tuple[Text, ...]]] = []
    placed = set()

    def place(name: Text) -> None:
        if name in placed or name not in schema.nodes:  # placed already, or an input
            return
        placed.add(name)
        needs = tuple(schema.nodes[name].needs.values())
        for need in needs:
            place(need)
        order.append((name, needs))

    for name in schema.nodes:
        place(name)
    return order


def run_graph(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
               targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
    run_targets = targets if targets else self._graph_schema.target_names
    orders = self.__dict__.setdefault("_execution_orders", {})
    key = tuple(run_targets)
    if key not in orders:
        orders[key] = _execution_order(self._graph_schema.minimal_graph_schema(run_targets))
    inputs = inputs or {}
    # What dask passed each node: a parent's (name, output), an input's (name, value), and for
    # anything unresolved its bare name (GraphNode warns about it, or fails for a missing input).
    results = {name: (name, value) for name, value in inputs.items()}
    try:
        for node_name, needs in orders[key]:
            if node_name not in inputs:  # an input given for a node replaces it, as in dask
                results[node_name] = self._instantiated_nodes[node_name](*(results.get(need, need) for need in needs))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results[target] for target in run_targets)
