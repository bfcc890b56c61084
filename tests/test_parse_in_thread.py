"""Messages are understood on the parse thread, and the event loop keeps serving meanwhile
(components/parse_in_thread.py), with the trained model."""
import asyncio
import threading
import time

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.trackers import DialogueStateTracker

TEXTS = ["what is botox", "does it hurt", "i cant swallow since my injection", "how much does it cost",
         "when will i see results", "thank you"]


def _parse_on_the_loop(processor, text):
    return processor._parse_message_with_graph(UserMessage(text), DialogueStateTracker("patient", []), True)


def test_other_conversations_are_served_while_a_message_is_parsed(processor, monkeypatch):
    parse_graph = processor._parse_message_with_graph
    parsing = threading.Event()
    parse_threads = []

    def slow_parse(*args):
        parse_threads.append(threading.current_thread())
        parsing.set()
        time.sleep(0.3)  # a parse as long as the loop must not be blocked for
        result = parse_graph(*args)
        parsing.clear()
        return result

    monkeypatch.setattr(processor, "_parse_message_with_graph", slow_parse)

    async def scenario():
        ticks_while_parsing = 0

        async def other_conversations():
            nonlocal ticks_while_parsing
            while not parse.done():
                ticks_while_parsing += parsing.is_set()
                await asyncio.sleep(0.01)

        parse = asyncio.ensure_future(processor.parse_message(UserMessage("does it hurt")))
        await asyncio.gather(parse, other_conversations())
        return parse.result(), ticks_while_parsing

    result, ticks_while_parsing = asyncio.run(scenario())
    assert parse_threads and parse_threads[0] is not threading.main_thread()
    assert ticks_while_parsing >= 10
    assert result["intent"]["name"] == _parse_on_the_loop(processor, "does it hurt")["intent"]["name"]


def test_concurrent_messages_each_get_their_own_understanding(processor):
    async def parse_all():
        return await asyncio.gather(*(processor.parse_message(UserMessage(text)) for text in TEXTS * 3))

    results = asyncio.run(parse_all())
    expected = {text: _parse_on_the_loop(processor, text) for text in TEXTS}
    assert [result["text"] for result in results] == TEXTS * 3
    for result in results:
        assert result["intent"] == expected[result["text"]]["intent"]
        assert result["entities"] == expected[result["text"]]["entities"]


def test_a_failed_parse_reaches_the_caller_and_the_next_message_is_parsed(processor, monkeypatch):
    parse_graph = processor._parse_message_with_graph
    monkeypatch.setattr(processor, "_parse_message_with_graph", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        asyncio.run(processor.parse_message(UserMessage("what is botox")))
    monkeypatch.setattr(processor, "_parse_message_with_graph", parse_graph)
    assert asyncio.run(processor.parse_message(UserMessage("what is botox")))["text"] == "what is botox"
