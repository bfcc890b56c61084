"""Turning the assistant's replies into text messages.

An SMS reply is plain text: no markdown, no button payload syntax (buttons become numbered
options the patient answers with a digit, introduced in the reply's language), typographic
characters replaced so the message stays in the GSM-7 alphabet (a single curly quote would switch it
to UCS-2 and cut a segment from 153 to 67 characters). Spanish accented vowels outside GSM-7 (á, í,
ó, ú and their capitals) lose their accent for the same reason: that is what carriers' and SMS
providers' "smart encoding" does. It is done here because Twilio's Smart Encoding is a Messaging
Service setting (these replies are sent from a number) and so that segments() counts what is sent.
é, ñ, ü, ¿ and ¡ are in GSM-7 and stay. One turn's replies are joined and, when longer than MAX_SEGMENTS
segments, split at paragraph and then sentence boundaries into several messages of at most
MAX_SEGMENTS segments each.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from botox_clinic import language
from botox_clinic.messages import text as catalogue_text

MAX_SEGMENTS = 3

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXTENDED = set("^{}\\[~]|€")  # two septets each
_TYPOGRAPHIC = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...",
                              "\u00a0": " ", "•": "-"})
# Smart encoding's accent folding: the Spanish vowels that GSM-7 lacks (it has é, ñ, ü, ¿, ¡).
_SMART_ENCODING = str.maketrans("áíóúÁÍÓÚ", "aiouAIOU")
# How sure language.detect must be that a reply is Spanish for its numbered options to be introduced
# in Spanish.
SPANISH_CONFIDENCE = 0.8


@dataclass
class SmsReply:
    """What to send for one turn, and the button payloads the numbered options stand for."""
    messages: List[str]
    choices: Dict[str, str] = field(default_factory=dict)


def is_gsm7(text: str) -> bool:
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text)


def segments(text: str) -> int:
    """How many SMS segments Twilio bills for `text` (GSM-7 or UCS-2, with concatenation headers)."""
    if is_gsm7(text):
        units, single, multi = sum(2 if c in _GSM7_EXTENDED else 1 for c in text), 160, 153
    else:
        units, single, multi = sum(2 if ord(c) > 0xFFFF else 1 for c in text), 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


def plain_text(text: str) -> str:
    text = text.translate(_TYPOGRAPHIC).translate(_SMART_ENCODING)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)  # [label](url) -> label (url)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"[ \t]+", " ", text)
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def format_reply(bot_messages: Sequence[dict]) -> SmsReply:
    """Rasa's collected bot messages (text, buttons, image, custom) for one turn -> text messages."""
    parts, choices = [], {}
    prompt = None  # "Reply with a number:", in the reply's language, looked up once there are buttons
    for message in bot_messages:
        if message.get("text"):
            parts.append(plain_text(message["text"]))
        buttons = message.get("buttons") or []
        if buttons:
            prompt = prompt or plain_text(catalogue_text("sms.reply_with_number", reply_language(bot_messages)))
            options = []
            for number, button in enumerate(buttons, start=len(choices) + 1):
                choices[str(number)] = button.get("payload") or button.get("title", "")
                options.append(f"{number} {plain_text(button.get('title', ''))}")
            parts.append(prompt + "\n" + "\n".join(options))
        if message.get("image"):
            parts.append(message["image"])
        # custom payloads (the web widget's escalation banner) have no SMS form: the text says it all
    return SmsReply(split_messages("\n\n".join(p for p in parts if p)), choices)


def reply_language(bot_messages: Sequence[dict]) -> str:
    """The language of one turn's replies, from their own text (their texts and button titles):
    Spanish when lingua says so with confidence SPANISH_CONFIDENCE or more, else English."""
    words = [message.get("text") or "" for message in bot_messages]
    words += [button.get("title") or "" for message in bot_messages for button in message.get("buttons") or []]
    detection = language.detect("\n".join(w for w in words if w))
    if detection.language == "es" and detection.confidence >= SPANISH_CONFIDENCE:
        return "es"
    return language.DEFAULT_LANGUAGE


def split_messages(text: str) -> List[str]:
    if not text:
        return []
    if segments(text) <= MAX_SEGMENTS:
        return [text]
    # (piece, separator before it): whole paragraphs where they fit, else their sentences, else words.
    pieces = []
    for paragraph in text.split("\n\n"):
        if segments(paragraph) <= MAX_SEGMENTS:
            pieces.append((paragraph, "\n\n"))
            continue
        for i, sentence in enumerate(s for s in re.split(r"(?<=[.!?:])\s+|\n", paragraph) if s):
            for j, chunk in enumerate(_wrap(sentence)):
                pieces.append((chunk, "\n\n" if i == j == 0 else " "))
    messages, current = [], ""
    for piece, separator in pieces:
        candidate = f"{current}{separator}{piece}" if current else piece
        if segments(candidate) <= MAX_SEGMENTS:
            current = candidate
        else:
            messages.append(current)
            current = piece
    messages.append(current)
    return [m for m in messages if m]


def _wrap(sentence: str) -> List[str]:
    """A sentence too long for one message, cut between words."""
    chunks, current = [], ""
    # An over-long "word" (pasted text with no spaces) is cut into 100-character pieces, which fit
    # 3 segments in every encoding.
    words = [w[i:i + 100] for w in sentence.split(" ") for i in range(0, max(len(w), 1), 100)]
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and segments(candidate) > MAX_SEGMENTS:
            chunks.append(current)
            candidate = word
        current = candidate
    return chunks + [current] if current else chunks
