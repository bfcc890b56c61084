"""The conversation's language follows the patient (botox_clinic/language.py decides how): each
message may set the `language` and `language_source` slots before the reply is chosen, so the reply
to a Spanish question is already Spanish (the responses' Spanish variants are conditioned on the
slot). The conversation start sets them from the widget's page or the outreach list
(components/session_start.py).

Put around Rasa's `MessageProcessor._run_prediction_loop` (components/rasa_patches.py): the message
has been understood and logged, nothing has been predicted yet. It runs inside the Rasa server and
needs nothing but the message's text, so it cannot stall a reply.
"""
from __future__ import annotations

from rasa.core.channels.channel import OutputChannel
from rasa.core.channels.socketio import SocketIOOutput
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.language import next_language
from botox_clinic.slots import LANGUAGE, LANGUAGE_SOURCE


def update(tracker: DialogueStateTracker) -> bool:
    """Set the conversation's language from its latest message, where that message says so; True
    when the language changed."""
    text = tracker.latest_message.text if tracker.latest_message else None
    if not text or text.startswith("/"):  # a button's payload says nothing about the language
        return False
    before = tracker.get_slot(LANGUAGE)
    found = next_language(before, tracker.get_slot(LANGUAGE_SOURCE), text)
    if not found:
        return False
    tracker.update(SlotSet(LANGUAGE, found[0]))
    tracker.update(SlotSet(LANGUAGE_SOURCE, found[1]))
    return found[0] != before


def prediction_loop(rasa_loop):
    """Rasa's `MessageProcessor._run_prediction_loop` (or another replacement of it), after the
    conversation's language is brought up to date with the latest message."""
    async def run_prediction_loop(self: MessageProcessor, output_channel: OutputChannel,
                                  tracker: DialogueStateTracker) -> None:
        if self._should_handle_message(tracker) and update(tracker) and output_channel.name() == SocketIOOutput.name():
            # The web chat widget's own labels follow (web/widget.js).
            await output_channel.send_custom_json(tracker.sender_id, {"type": "language",
                                                                      "language": tracker.get_slot(LANGUAGE)})
        return await rasa_loop(self, output_channel, tracker)

    return run_prediction_loop
