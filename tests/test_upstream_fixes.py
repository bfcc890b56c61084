"""The faster action-reply validation, event-class lookup and model-graph runs give exactly what
Rasa's own do; calls to the action server reuse their connection."""
import asyncio

import dask
import jsonschema
import pytest
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.exceptions import GraphComponentException
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

import components  # noqa: F401  (applies the replacements, as loading the model does)
from components import upstream_fixes

SESSION_START_REPLY = {
    "events": [{"event": "session_started"}, {"event": "slot", "name": "clinic_name", "value": "Demo"},
               {"event": "action", "name": "action_listen"}],
    "responses": [{"response": "utter_welcome", "clinic_name": "Demo"}],
}


def test_the_fixes_are_in_place():
    assert RemoteAction._validate_action_result is upstream_fixes.validate_action_result
    assert Event.resolve_by_type is upstream_fixes.resolve_by_type
    assert EndpointConfig.session is upstream_fixes.kept_session
    assert DaskGraphRunner.run is upstream_fixes.run_graph


def test_a_valid_reply_passes_without_rechecking_the_schema(monkeypatch):
    # Rasa's own check calls jsonschema.validate, which re-checks the schema itself on every call;
    # the fix must not (this fails without it).
    calls = []
    monkeypatch.setattr(jsonschema, "validate", lambda *args, **kwargs: calls.append(args))
    assert RemoteAction("action_session_start", None)._validate_action_result(SESSION_START_REPLY)
    assert calls == []


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


async def _serve_and_call(calls):
    """Serves a JSON echo of each request's connection (numbered in order of opening) and token
    header; `calls` gets the URL and the server's connections."""
    connections = []  # kept, so that no two connections are ever the same object

    async def echo(request):
        if not any(request.transport is seen for seen in connections):
            connections.append(request.transport)
        number = next(i for i, seen in enumerate(connections) if seen is request.transport)
        return web.json_response({"connection": number, "token": request.headers.get("X-Token")})

    app = web.Application()
    app.router.add_post("/webhook", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        return await calls(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/webhook", connections)
    finally:
        await runner.cleanup()


def test_calls_to_one_endpoint_share_a_connection_and_keep_their_own_headers():
    async def calls(url, _connections):
        first, second = EndpointConfig(url, headers={"X-Token": "a"}), EndpointConfig(url, headers={"X-Token": "b"})
        return [await endpoint.request(json={}) for endpoint in (first, first, second, EndpointConfig(url, headers={"X-Token": "a"}))]

    replies = asyncio.run(_serve_and_call(calls))
    assert [reply["token"] for reply in replies] == ["a", "a", "b", "a"]
    assert [reply["connection"] for reply in replies] == [0, 0, 1, 0]


def test_a_call_after_the_server_closed_the_idle_connection_opens_a_new_one():
    async def calls(url, connections):
        endpoint = EndpointConfig(url)
        first = await endpoint.request(json={})
        connections[0].close()  # as a server does with a connection idle for longer than it allows
        await asyncio.sleep(0.1)
        return first, await endpoint.request(json={})

    first, second = asyncio.run(_serve_and_call(calls))
    assert (first["connection"], second["connection"]) == (0, 1)


def _run_with_dask(runner, inputs, target):
    """What Rasa's DaskGraphRunner.run computes, through dask's scheduler."""
    graph = runner._build_dask_graph(runner._graph_schema.minimal_graph_schema([target]))
    runner._add_inputs_to_graph(inputs, graph)
    return dict(dask.get(graph, [target]))[target]


@pytest.mark.parametrize("text", ["hello", "does it hurt", "my eyelid is drooping since the injection",
                                  "how much is it", "asdfgh"])
def test_the_model_graph_gives_what_dask_gives(processor, text):
    runner = processor.graph_runner
    nlu, core = processor.model_metadata.nlu_target, processor.model_metadata.core_target
    tracker = DialogueStateTracker.from_events("patient", [ActionExecuted(ACTION_LISTEN_NAME)])
    parse_inputs = {PLACEHOLDER_MESSAGE: [UserMessage(text)], PLACEHOLDER_TRACKER: tracker}
    understood = runner.run(parse_inputs, [nlu])[nlu]
    assert ([m.as_dict(only_output_properties=True) for m in understood]
            == [m.as_dict(only_output_properties=True) for m in _run_with_dask(runner, parse_inputs, nlu)])

    parsed = understood[0]
    tracker.update(UserUttered(text, parsed.get(INTENT), parsed.get("entities", [])))
    prediction = runner.run({PLACEHOLDER_TRACKER: tracker}, [core])[core]
    assert prediction == _run_with_dask(runner, {PLACEHOLDER_TRACKER: tracker}, core)
    assert prediction.max_confidence > 0


def test_a_failing_graph_node_raises_as_under_dask(processor, monkeypatch):
    runner = processor.graph_runner
    classifier = next(node for name, node in runner._instantiated_nodes.items() if "IntentClassifier" in name)
    monkeypatch.setattr(classifier, "_fn", lambda *args, **kwargs: 1 / 0)
    inputs = {PLACEHOLDER_MESSAGE: [Message({TEXT: "hello"})], PLACEHOLDER_TRACKER: DialogueStateTracker("patient", [])}
    for run in (runner.run, lambda inputs, targets: _run_with_dask(runner, inputs, targets[0])):
        with pytest.raises(GraphComponentException):
            run(inputs, [processor.model_metadata.nlu_target])
