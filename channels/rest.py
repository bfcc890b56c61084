"""The REST channel, with its input checked before it reaches the assistant.

Rasa's RestInput files a request without a sender under the shared id "default" (one patient
would see another's conversation), answers a JSON array with a 500, and a missing message with an
empty 200. Here every such request gets a 400 that says what is wrong; an over-long message gets
a 413. The URL is unchanged: /webhooks/rest/webhook.

A REST client only hears from us when it sends, so the messages a clinician wrote to this patient
(botox_clinic/handoff.py) come first in the reply to their next message, each in one reply only
(channels/clinician_messages.py).
"""
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request

from botox_clinic.language import MESSAGE_LANGUAGE_KEY, message_language
from channels import clinician_messages

MAX_MESSAGE_CHARS = 5000
MAX_SENDER_CHARS = 128


def _payload(request: Request) -> Dict[Text, Any]:
    payload = request.json  # Sanic answers 400 itself when the body is not JSON
    if not isinstance(payload, dict):
        raise InvalidUsage('expected a JSON object: {"sender": "...", "message": "..."}')
    return payload


class ValidatedRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def after_clinician_messages(message: UserMessage) -> None:
            # The reply collects in message.output_channel; whatever the turn does, these stay in it.
            for text in await clinician_messages.take_for_reply(self.name(), message.sender_id):
                await message.output_channel.send_text_message(message.sender_id, text)
            await on_new_message(message)

        return super().blueprint(after_clinician_messages)

    async def _extract_sender(self, request: Request) -> Optional[Text]:
        sender = _payload(request).get("sender")
        if not isinstance(sender, str) or not sender.strip():
            raise InvalidUsage('"sender" is required: a non-empty string that identifies the conversation')
        if len(sender) > MAX_SENDER_CHARS or not sender.isprintable():
            raise InvalidUsage(f'"sender" must be printable and at most {MAX_SENDER_CHARS} characters')
        return sender

    def _extract_message(self, request: Request) -> Optional[Text]:
        message = _payload(request).get("message")
        if not isinstance(message, str):
            raise InvalidUsage('"message" is required and must be a string')
        if not message.strip():
            raise InvalidUsage('"message" is empty')
        if len(message) > MAX_MESSAGE_CHARS:
            raise PayloadTooLarge(f'"message" has {len(message)} characters; the limit is {MAX_MESSAGE_CHARS}. '
                                  "Please send a shorter message, or call the clinic.")
        return message

    def _extract_input_channel(self, request: Request) -> Text:
        # The channel is recorded with escalations: it is ours to say, not the client's.
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        payload = _payload(request)
        metadata = payload.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidUsage('"metadata" must be a JSON object')
        # The message's language, for a conversation it opens (components/session_start.py).
        message = payload.get("message")
        said = message_language(message) if isinstance(message, str) else None
        return {**(metadata or {}), MESSAGE_LANGUAGE_KEY: said} if said else metadata
