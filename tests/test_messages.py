"""The message catalogue: every language has every key with the same placeholders, and every key
is used somewhere."""
import re
import string

import pytest
from conftest import ROOT

from botox_clinic import messages
from botox_clinic.settings import ClinicSettings
from channels.sms_format import is_gsm7, segments

CLINIC = ClinicSettings("Demo Botox Clinic", "(555) 010-0199", "911")
# Where catalogue keys are used: Python by key, the widget by the name after "widget.".
USERS = [*ROOT.glob("botox_clinic/*.py"), *ROOT.glob("channels/*.py"), *ROOT.glob("components/*.py"),
         *ROOT.glob("actions/*.py")]


def _placeholders(template: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_key_with_the_same_placeholders():
    catalogue = messages.catalogue()
    english = catalogue[messages.DEFAULT_LANGUAGE]
    for language, entries in catalogue.items():
        assert set(entries) == set(english), language
        for key, template in entries.items():
            assert _placeholders(template) == _placeholders(english[key]), (language, key)


def test_every_key_is_used():
    python = "\n".join(path.read_text() for path in USERS)
    widget = (ROOT / "web/widget.js").read_text()
    unused = []
    for key in messages.catalogue()[messages.DEFAULT_LANGUAGE]:
        if key.startswith("widget."):
            used = f'say("{key[len("widget."):]}"' in widget or f'"{key[len("widget."):]}"' in widget
        elif key.startswith("notification.advice."):
            used = 'text(f"notification.advice.' in python
        else:
            used = f'"{key}"' in python
        if not used:
            unused.append(key)
    assert unused == []


def test_the_widget_asks_only_for_keys_the_catalogue_has():
    asked = set(re.findall(r'say\("(\w+)"', (ROOT / "web/widget.js").read_text()))
    asked |= set(re.findall(r'"(banner_\w+)"', (ROOT / "web/widget.js").read_text()))
    assert asked - set(messages.with_prefix("widget.")) == set()


SMS_KEYS = [k for k in messages.catalogue()["en"] if k.startswith(("sms.", "outreach."))]
# A long name and the longest dates; in Spanish also an accented name and date, which make the text UCS-2.
SMS_VALUES = {
    "en": [{"first_name": "Alexandria", "when": "Wednesday 30 December at 10:30 AM"}],
    "es": [{"first_name": "Alexandria", "when": "miércoles 30 de septiembre a las 10:30 a. m."},
           {"first_name": "Sofía", "when": "sábado 30 de septiembre a las 10:30 a. m."}],
}


@pytest.mark.parametrize("language", sorted(SMS_VALUES))
@pytest.mark.parametrize("key", SMS_KEYS)
def test_sms_texts_stay_in_gsm7_and_three_segments(key, language):
    """English stays in GSM-7. Spanish may need á, í, ó, ú (outside GSM-7): segments() counts a text
    with any such character as UCS-2 (67 characters a segment), else as GSM-7 (153)."""
    for values in SMS_VALUES[language]:
        body = messages.text(key, language, clinic=CLINIC, **values)
        assert segments(body) <= 3, (len(body), is_gsm7(body), body)
        if language == "en":
            assert is_gsm7(body), body


@pytest.mark.parametrize("key", SMS_KEYS)
def test_translated_sms_texts_keep_the_keywords_the_sms_channel_acts_on(key):
    """STOP, START and HELP work on every number (Twilio's own opt-out list is English); the Spanish
    keywords (clinic/sms_keywords.yml) only where our channel sees the message first."""
    keywords = {"STOP", "START", "HELP"}
    english = keywords & set(re.findall(r"[A-Z]+", messages.template(key)))
    for language in messages.catalogue():
        assert english <= set(re.findall(r"[A-Z]+", messages.template(key, language))), (language, key)


def test_clinic_details_are_filled_in():
    assert messages.text("sms.help", clinic=CLINIC).startswith("Demo Botox Clinic Botox patient assistant")
    assert "{" not in messages.text("sms.opted_out", clinic=CLINIC)
