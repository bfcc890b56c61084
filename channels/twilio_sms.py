"""Twilio SMS at /webhooks/twilio/webhook, fixing what Rasa's TwilioInput leaves undone.

Rasa's channel checks no X-Twilio-Signature, sends with Twilio's blocking client inside the event
loop, answers 500 to a message with no Body, and sends markdown and button syntax as they are.
This one:
- rejects any request whose signature does not match (403), computed over TWILIO_WEBHOOK_URL, the
  public URL Twilio was given, so it holds behind a proxy or load balancer;
- handles STOP / START / HELP, their usual synonyms and their Spanish counterparts (PARAR /
  INICIAR / AYUDA, ...; clinic/sms_keywords.yml) before the assistant sees them, answering in the
  keyword's language (opt-outs are stored durably; nothing is sent to an opted-out number until
  START);
- answers a message with no text (a photo, a location) politely;
- lets the assistant handle the message (so an escalation is recorded before Twilio is answered),
  then sends the reply as plain text, at most 3 segments per message, through Twilio's REST API
  (botox_clinic/twilio.py) in a background task, one phone number's messages strictly in order;
- sends the messages a clinician writes to the patient (channels/clinician_messages.py) the same
  way, in order with the replies, and never to a number that has opted out (they wait for START).
Its own replies (STOP, START, HELP, a message it cannot read) are in the message catalogue.
"""
import asyncio
import logging
import unicodedata
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Set, Text

import yaml
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from botox_clinic import paths
from botox_clinic.language import LANGUAGES, MESSAGE_LANGUAGE_KEY, message_language
from botox_clinic.messages import text
from botox_clinic.settings import Settings, get_settings
from botox_clinic.sms_state import SmsState
from botox_clinic.twilio import DeliveryError, TwilioClient
from channels.clinician_messages import ClinicianMessageRelay
from channels.rest import MAX_MESSAGE_CHARS
from channels.sms_format import format_reply

logger = logging.getLogger(__name__)

# The keywords by language and kind: English are Twilio's defaults, Spanish our own (see the file).
KEYWORDS_FILE = paths.SMS_KEYWORDS
OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
KEYWORD_MAX_CHARS = 16  # records.sms_opt_outs.keyword

# Empty TwiML: Twilio sends nothing itself; our replies go out through the REST API.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class Keyword(NamedTuple):
    word: str  # as the keyword file writes it (capitals, no accents): what an opt-out stores
    kind: str  # OPT_OUT, OPT_IN or HELP
    language: str  # the reply's


@lru_cache(maxsize=1)
def keywords() -> Dict[str, Keyword]:
    """Every keyword of clinic/sms_keywords.yml by its word, read once and checked."""
    with open(KEYWORDS_FILE, encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    found: Dict[str, Keyword] = {}
    for language, kinds in loaded.items():
        if language not in LANGUAGES or set(kinds) - {OPT_OUT, OPT_IN, HELP}:
            raise ValueError(f"{KEYWORDS_FILE}: unknown language or kind under {language!r}")
        for kind, words in kinds.items():
            for word in words:
                # An unquoted YES or NO is a YAML boolean; a keyword twice would have two meanings.
                if not isinstance(word, str) or word != _folded(word) or len(word) > KEYWORD_MAX_CHARS \
                        or word in found:
                    raise ValueError(f"{KEYWORDS_FILE}: {word!r} ({language} {kind}): quote it, write it in "
                                     f"capitals without accents, at most {KEYWORD_MAX_CHARS} characters, once")
                found[word] = Keyword(word, kind, language)
    return found


def keyword(body: str) -> Optional[Keyword]:
    """The keyword a whole message is, if it is one: in any case, with or without accents, spaces and
    "." or "!" (or "¡") around it."""
    return keywords().get(_folded(body.strip().strip(".!¡")))


def _folded(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.strip()) if not unicodedata.combining(c)).upper()


class SmsSender:
    """Sends replies through Twilio's Messages API without blocking, in order per phone number."""

    def __init__(self, twilio: TwilioClient, state: SmsState):
        self._twilio = twilio
        self._state = state
        self._locks: Dict[str, asyncio.Lock] = {}
        self._tasks: Set[asyncio.Task] = set()

    def send_later(self, phone: str, messages: List[str], *, even_if_opted_out: bool = False) -> None:
        # The lock is taken in task-creation order (asyncio.Lock is FIFO), so replies keep their order.
        task = asyncio.create_task(self._send_in_order(phone, messages, even_if_opted_out))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_now(self, phone: str, messages: List[str]) -> bool:
        """Send in order with the queued replies; False when the number has opted out or a send failed."""
        return await self._send_in_order(phone, messages, False)

    async def drain(self) -> None:
        """Wait for every queued send (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send_in_order(self, phone: str, messages: List[str], even_if_opted_out: bool) -> bool:
        lock = self._locks.setdefault(phone, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            if not even_if_opted_out and await loop.run_in_executor(None, self._state.is_opted_out, phone):
                logger.info("SMS reply suppressed: the number has opted out")
                return False
            for body in messages:
                if not await self._send_one(phone, body):
                    return False  # later parts would read out of context
            return True

    async def _send_one(self, phone: str, body: str) -> bool:
        try:
            await self._twilio.send(phone, body)
        except DeliveryError as exc:
            logger.error("SMS reply not sent: %s", exc)
            return False
        return True


class SmsCollector(CollectingOutputChannel):
    """Collects one turn's replies; named "twilio" so that responses' `channel: twilio` variants apply."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"


class SmsOutput(OutputChannel):
    """For messages Rasa sends on its own (e.g. /conversations/<id>/trigger_intent?output_channel=twilio)."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    def __init__(self, sender: SmsSender, state: SmsState):
        self._sender, self._state = sender, state

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        reply = format_reply([message])
        if reply.choices:
            await asyncio.get_running_loop().run_in_executor(None, self._state.offer_choices, recipient_id,
                                                             reply.choices)
        self._sender.send_later(recipient_id, reply.messages)


class SmsInput(TwilioInput):
    """Registered in credentials.yml as `channels.twilio_sms.SmsInput`; configured from the environment."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(get_settings())

    def __init__(self, settings: Settings):
        account = settings.twilio
        super().__init__(account and account.account_sid, account and account.auth_token,
                         account and account.from_number, debug_mode=False)
        self.settings = settings
        keywords()  # read and checked at start, not at the first message
        # Unconfigured, the channel only answers 503: it opens no database.
        self.state = SmsState(settings.records_db_url) if account else None
        self.sender = SmsSender(TwilioClient(account), self.state) if account else None
        self.validator = RequestValidator(account.auth_token) if account else None
        if account is None:
            logger.warning("SMS channel not configured (TWILIO_ACCOUNT_SID unset): it answers 503")
        elif not settings.twilio_webhook_url:
            logger.warning("TWILIO_WEBHOOK_URL unset: signatures are checked against the request URL, "
                           "which is wrong behind a proxy")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sms = Blueprint("twilio_sms_webhook", __name__)
        if self.sender:
            ClinicianMessageRelay(self.name(), self._send_clinician_message, self._may_text).run_with(sms)

        @sms.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.sender else "not configured"})

        @sms.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.sender is None:
                return response.json({"message": "the SMS channel is not configured"}, status=503)
            if not (request.content_type or "").startswith("application/x-www-form-urlencoded"):
                return response.json({"message": "expected application/x-www-form-urlencoded"}, status=415)
            url = self.settings.twilio_webhook_url or request.url
            signature = request.headers.get("X-Twilio-Signature", "")
            if not self.validator.validate(url, request.form, signature):
                logger.warning("SMS webhook request with an invalid signature refused")
                return response.json({"message": "invalid X-Twilio-Signature"}, status=403)
            phone = (request.form.get("From") or "").strip()
            if not phone:
                return response.json({"message": '"From" is required'}, status=400)
            await self._handle(phone, request.form.get("Body") or "", on_new_message)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return sms

    async def _send_clinician_message(self, phone: str, body: str) -> bool:
        return await self.sender.send_now(phone, format_reply([{"text": body}]).messages)

    async def _may_text(self, phone: str) -> bool:
        return not await asyncio.get_running_loop().run_in_executor(None, self.state.is_opted_out, phone)

    def get_output_channel(self) -> Optional[OutputChannel]:
        return SmsOutput(self.sender, self.state) if self.sender else None

    async def _handle(self, phone: str, body: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        clinic = self.settings.clinic
        loop = asyncio.get_running_loop()
        said = keyword(body)
        if said and said.kind == OPT_OUT:
            # Stored (committed) before the confirmation is queued; the stored word tells its language.
            await loop.run_in_executor(None, self.state.opt_out, phone, said.word)
            self.sender.send_later(phone, [text("sms.opted_out", said.language, clinic=clinic)],
                                   even_if_opted_out=True)
            return
        if said and said.kind == OPT_IN and await loop.run_in_executor(None, self.state.opt_in, phone):
            self.sender.send_later(phone, [text("sms.opted_in", said.language, clinic=clinic)])
            return
        if said and said.kind == HELP:
            self.sender.send_later(phone, [text("sms.help", said.language, clinic=clinic)], even_if_opted_out=True)
            return
        if not body.strip():
            self.sender.send_later(phone, [text("sms.not_text", clinic=clinic)])
            return
        if len(body) > MAX_MESSAGE_CHARS:
            self.sender.send_later(phone, [text("sms.too_long", clinic=clinic)])
            return
        chosen = await loop.run_in_executor(None, self.state.take_choice, phone, body)
        collector = SmsCollector()
        try:
            # The message's language, for a conversation that starts with it: its disclaimer is then
            # in that language too (components/session_start.py).
            await on_new_message(UserMessage(chosen or body, collector, phone, input_channel=self.name(),
                                             metadata={MESSAGE_LANGUAGE_KEY: message_language(body)}))
        except Exception:  # the patient must hear something, whatever failed inside
            logger.exception("SMS message could not be handled")
            collector.messages = [{"text": text("sms.failed", clinic=clinic)}]
        reply = format_reply(collector.messages)
        await loop.run_in_executor(None, self.state.offer_choices, phone, reply.choices)
        self.sender.send_later(phone, reply.messages)
