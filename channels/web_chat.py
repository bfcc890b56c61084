"""The website chat widget's channel: Socket.IO at /socket.io, the widget's files at /webhooks/webchat/.

Rasa's SocketIOInput, with python-socketio 5.18, never delivers a reply when session_persistence is
on: it calls the now-asynchronous `enter_room` without awaiting it, so the browser never joins the
room its replies are sent to. This channel awaits it, and also:
- accepts connections only from the configured origins (WEB_CHAT_ORIGINS, checked by
  python-socketio's CORS handling) and, when WEB_CHAT_JWT_SECRET is set, only with a signed token;
- always persists sessions (the widget keeps its session id, so a reload continues the
  conversation) and accepts only well-formed session ids;
- answers a malformed or over-long message with an `error` event instead of failing inside;
- serves the widget with its own sentences from the message catalogue filled in;
- pushes the messages a clinician writes to the patient over their open socket, as `bot_uttered`
  (channels/clinician_messages.py); a patient not connected gets them when the widget next
  connects (a page load, a reload), since the relay only sends to sessions with a socket here.
"""
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from botox_clinic.language import LANGUAGES
from botox_clinic.messages import with_prefix
from botox_clinic.settings import get_settings
from channels.clinician_messages import ClinicianMessageRelay
from channels.rest import MAX_MESSAGE_CHARS

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SOCKET_IO_CLIENT = WEB_DIR / "node_modules/socket.io-client/dist/socket.io.min.js"
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
# Enough for the longest accepted message plus metadata; larger frames are refused by the server.
MAX_FRAME_BYTES = 64 * 1024
# Where widget.js takes the catalogue's widget.* sentences.
CATALOGUE_PLACEHOLDER = "/*catalogue*/ {}"


def widget_source() -> str:
    """web/widget.js with its sentences from the message catalogue, in every language."""
    source = (WEB_DIR / "widget.js").read_text(encoding="utf-8")
    if CATALOGUE_PLACEHOLDER not in source:
        raise RuntimeError(f"web/widget.js has no {CATALOGUE_PLACEHOLDER!r} for its sentences")
    sentences = {language: with_prefix("widget.", language) for language in LANGUAGES}
    return source.replace(CATALOGUE_PLACEHOLDER, json.dumps(sentences, ensure_ascii=False))


class WebChatOutput(SocketIOOutput):
    """Rasa's SocketIOOutput passes a custom payload as keyword arguments to `emit`, which fails for
    any payload with keys such as "type"; the widget receives {"custom": payload} instead."""

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await self.sio.emit(self.bot_message_evt, {"custom": json_message}, room=recipient_id)


class WebChatInput(SocketIOInput):
    """Registered in credentials.yml as `channels.web_chat.WebChatInput`."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        settings = get_settings()
        return cls(settings.web_chat_origins, settings.web_chat_jwt_secret)

    def __init__(self, allowed_origins, jwt_secret: Optional[str] = None):
        super().__init__(session_persistence=True, jwt_key=jwt_secret)
        self.allowed_origins = list(allowed_origins)
        # The session each socket on this server joined: the sessions a clinician's message can reach now.
        self.sessions_by_socket: Dict[str, str] = {}

    def get_output_channel(self) -> Optional[WebChatOutput]:
        return WebChatOutput(self.sio, self.bot_message_evt) if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        widget_js = widget_source()
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins,
                          max_http_buffer_size=MAX_FRAME_BYTES)
        self.sio = sio
        # Socket.IO itself at /socket.io; the HTTP routes below at /webhooks/webchat/.
        blueprint = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)

        async def connected(session_id: str) -> bool:
            return session_id in self.sessions_by_socket.values()

        async def push(session_id: str, text: str) -> bool:
            await sio.emit(self.bot_message_evt, {"text": text}, room=session_id)
            return True

        ClinicianMessageRelay(self.name(), push, connected).run_with(blueprint)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/clinic", methods=["GET"])
        async def clinic(request: Request) -> HTTPResponse:
            # What the widget's escalation banner shows: the numbers to call. Read cross-origin by
            # the clinic's page, so allowed origins get a CORS header.
            origin = request.headers.get("Origin", "")
            headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin in self.allowed_origins else {}
            return response.json(get_settings().clinic.template_values(), headers=headers)

        @blueprint.route("/widget.js", methods=["GET"])
        async def widget(_: Request) -> HTTPResponse:
            return response.text(widget_js, content_type="text/javascript; charset=utf-8")

        @blueprint.route("/socket.io.min.js", methods=["GET"])
        async def socket_io_client(_: Request) -> HTTPResponse:
            return await response.file(str(SOCKET_IO_CLIENT), mime_type="text/javascript")

        @sio.on("connect")
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

        @sio.on("session_request")
        async def session_request(sid: Text, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if isinstance(requested, str) and _SESSION_ID.match(requested) else uuid.uuid4().hex
            await sio.enter_room(sid, session_id)  # the upstream defect: this was not awaited
            # Messages from this socket belong to this session, whatever session id they carry.
            await sio.save_session(sid, {"session_id": session_id})
            await sio.emit("session_confirm", session_id, room=sid)
            self.sessions_by_socket[sid] = session_id

        @sio.on("disconnect")
        async def disconnect(sid: Text, reason: Any = None) -> None:
            self.sessions_by_socket.pop(sid, None)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: Text, data: Any = None) -> None:
            session_id = (await sio.get_session(sid)).get("session_id")
            problem = _problem_with(data, session_id)
            if problem:
                await sio.emit("error_message", {"message": problem}, room=sid)
                return
            metadata = data.get(self.metadata_key)
            await on_new_message(UserMessage(
                data["message"], WebChatOutput(sio, self.bot_message_evt), session_id,
                input_channel=self.name(), metadata=metadata if isinstance(metadata, dict) else None))

        return blueprint


def _problem_with(data: Any, session_id: Optional[str]) -> Optional[str]:
    if not session_id:
        return "request a session first (session_request)"
    if not isinstance(data, dict):
        return 'expected {"message": "..."}'
    message = data.get("message")
    if not isinstance(message, str) or not message.strip():
        return "the message is empty"
    if len(message) > MAX_MESSAGE_CHARS:
        return f"messages are limited to {MAX_MESSAGE_CHARS} characters"
    return None
