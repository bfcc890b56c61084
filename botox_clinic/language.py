"""The languages the assistant speaks, and which one a conversation is in.

A message's language is identified by lingua (lingua-language-detector), over English and Spanish
only: of the libraries on PyPI it was the one accurate on short messages (on the NLU examples,
py3langid took "hello hello" for Spanish at 0.99). Its models are loaded once per process.

The conversation's language (the `language` slot, which picks the responses' Spanish variants) is
set, from strongest to weakest, by the patient asking for one (clinic/languages.yml), by the page
the widget is on or the outreach list's `language` column, by a message of a few words clearly in
one language, and by a short message ("duele?") while nothing stronger has set it. So "ok",
"gracias" or a Spanglish sentence do not flip an established conversation, and a conversation
opened with "hello" still turns to Spanish with the first Spanish question.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

import yaml

from botox_clinic import paths

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "es")

# Where the conversation's language came from (the `language_source` slot), weakest first.
DEFAULT, SHORT_MESSAGE, MESSAGES, PAGE, OUTREACH, PATIENT = (
    "default", "short_message", "messages", "page", "outreach", "patient")
STRENGTH = {None: 0, DEFAULT: 0, SHORT_MESSAGE: 0, MESSAGES: 2, PAGE: 2, OUTREACH: 2, PATIENT: 3}

# A message sets the language on its own from this many words at this confidence (lingua's);
# shorter ones only while nothing stronger has (see the module docstring). Measured on the NLU
# examples and the red-flag corpus (7,308 English texts, 4,175 Spanish): at three words or more no
# English text is put in Spanish even at 0.6, and 0.6 finds 3,762 of the 3,815 Spanish ones (0.8:
# 3,648); one or two words at 0.8 still put 7 English ones ("adios", "laterz") in Spanish.
MESSAGE_WORDS = 3
MESSAGE_CONFIDENCE = 0.6
SHORT_MESSAGE_CONFIDENCE = 0.8

_WORD = re.compile(r"[^\W\d_]+")
_POLITE = re.compile(r"[\s,.!¡]*(please|por favor|pls|porfa)[\s.!]*$")


@dataclass(frozen=True)
class Detection:
    language: Optional[str]  # None when the text has no letters
    confidence: float  # lingua's, 0..1, between the two languages
    words: int


@lru_cache(maxsize=1)
def _lingua():
    from lingua import Language, LanguageDetectorBuilder

    codes = {Language.ENGLISH: "en", Language.SPANISH: "es"}
    return LanguageDetectorBuilder.from_languages(*codes).with_preloaded_language_models().build(), codes


def preload() -> None:
    """Load lingua's models now (they take about a second), not when the first message needs them."""
    _lingua()


def detect(text: str) -> Detection:
    words = len(_WORD.findall(text or ""))
    if not words:
        return Detection(None, 0.0, 0)
    detector, codes = _lingua()
    best = detector.compute_language_confidence_values(text)[0]
    return Detection(codes[best.language], float(best.value), words)


def supported(language: Optional[str]) -> Optional[str]:
    """"es", "es-US", "ES" -> "es"; None for a language the assistant does not speak."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def fold_accents(text: str) -> str:
    """"párpado" -> "parpado", "año" -> "ano": as patients type on a phone without a Spanish keyboard."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _normalised(text: str) -> str:
    text = fold_accents((text or "").strip().lower())
    return _POLITE.sub("", text).strip(" ¿?¡!.")


@lru_cache(maxsize=1)
def _requests() -> Dict[str, str]:
    with open(paths.LANGUAGE_REQUESTS, encoding="utf-8") as f:
        by_language = yaml.safe_load(f)
    return {_normalised(str(request)): language for language, requests in by_language.items() for request in requests}


def requested_language(text: str) -> Optional[str]:
    """The language a message asks for ("español", "English please"), if it is such a request."""
    return _requests().get(_normalised(text))


# The metadata key under which a channel passes message_language() of a message (SMS: the first
# message of a conversation is all the session start can go by).
MESSAGE_LANGUAGE_KEY = "message_language"


def message_language(text: str) -> Optional[List[str]]:
    """What the message alone says about the language: as next_language from nothing."""
    found = next_language(DEFAULT_LANGUAGE, DEFAULT, text)
    return list(found) if found else None


def next_language(current: Optional[str], source: Optional[str], text: str) -> Optional[Tuple[str, str]]:
    """(language, source) the conversation should be in after this message, or None to leave it."""
    requested = requested_language(text)
    if requested:
        return None if (requested, PATIENT) == (current, source) else (requested, PATIENT)
    detection = detect(text)
    if detection.language is None:
        return None
    if detection.words >= MESSAGE_WORDS and detection.confidence >= MESSAGE_CONFIDENCE:
        found = MESSAGES
    elif detection.confidence >= SHORT_MESSAGE_CONFIDENCE:
        found = SHORT_MESSAGE
    else:
        return None
    if detection.language == current:
        # Confirms it; a few clear words establish what a short message or the default only set.
        return (current, found) if STRENGTH[found] > STRENGTH.get(source, 0) else None
    return (detection.language, found) if STRENGTH[found] >= STRENGTH.get(source, 0) else None
