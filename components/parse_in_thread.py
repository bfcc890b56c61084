"""Understand messages on a thread of their own, not in the server's event loop (put in place of
Rasa's `MessageProcessor.parse_message` by components/rasa_patches.py).

Rasa runs the NLU graph synchronously inside the coroutine that handles the message, so while one
message is parsed (about 7 ms, most of it the sentence encoder in ONNX Runtime) the event loop
serves no other conversation, and a 2-core machine keeps one core for the whole server. ONNX
Runtime, NumPy and SciPy release the GIL while they compute, so a parse on another thread lets the
loop meanwhile retrieve, predict for and save other conversations (one process at 10 concurrent
conversations: 82 -> 94-98 turns/s, p95 217 -> 120-145 ms; README, Benchmark).

One thread: every NLU component then runs single-threaded, as Rasa runs them, so none of them
needs to be safe for concurrent calls; the nodes the parse shares with dialogue prediction (the
domain) are only read. A conversation's own turns stay in order, because the lock store's lock
for it is held while its message is parsed.
"""
from __future__ import annotations

import asyncio
import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor, structlogger
from rasa.shared.core.trackers import DialogueStateTracker

_parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu-parse")


async def parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: Optional[DialogueStateTracker] = None,
    only_output_properties: bool = True,
) -> Dict[Text, Any]:
    """Rasa 3.6.21's `MessageProcessor.parse_message`, with the graph run on the parse thread."""
    if self.http_interpreter:
        parse_data = await self.http_interpreter.parse(message)
    else:
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse_data = await asyncio.get_running_loop().run_in_executor(
            _parser, self._parse_message_with_graph, message, tracker, only_output_properties
        )

    self._update_full_retrieval_intent(parse_data)
    structlogger.debug(
        "processor.message.parse",
        parse_data_text=copy.deepcopy(parse_data["text"]),
        parse_data_intent=parse_data["intent"],
        parse_data_entities=copy.deepcopy(parse_data["entities"]),
    )
    self._check_for_unseen_features(parse_data)
    return parse_data
