"""The message catalogue (content/messages.yml): patient-facing sentences that are not Rasa responses.

    text("sms.help", clinic=settings.clinic)                  # English, clinic details filled in
    text("outreach.invite", first_name="Ana", when="...")     # other placeholders by name

Rasa responses stay in domain.yml; everything else a patient (or, for escalation notices, a
clinician) reads comes from here, so a translation touches one file.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, Optional

import yaml

from botox_clinic import paths
from botox_clinic.language import DEFAULT_LANGUAGE


@lru_cache(maxsize=1)
def catalogue() -> Dict[str, Dict[str, str]]:
    """{language: {key: template}}."""
    with open(paths.MESSAGES, encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    return {language: {str(k): str(v) for k, v in entries.items()} for language, entries in loaded.items()}


def template(key: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The unfilled sentence; a language the catalogue lacks falls back to English."""
    by_language = catalogue()
    return by_language.get(language, by_language[DEFAULT_LANGUAGE])[key]


def text(key: str, language: str = DEFAULT_LANGUAGE, clinic: Optional[object] = None, **values: str) -> str:
    """The sentence for `key`, with `clinic`'s details (a ClinicSettings) and `values` filled in."""
    filled = dict(clinic.template_values()) if clinic is not None else {}
    filled.update(values)
    return template(key, language).format(**filled)


def with_prefix(prefix: str, language: str = DEFAULT_LANGUAGE) -> Dict[str, str]:
    """Every unfilled sentence whose key starts with `prefix`, keyed without it (the widget's set)."""
    by_language = catalogue()
    entries = by_language.get(language, by_language[DEFAULT_LANGUAGE])
    return {key[len(prefix):]: value for key, value in entries.items() if key.startswith(prefix)}
