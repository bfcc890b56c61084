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


@pytest.mark.parametrize("key", [k for k in messages.catalogue()["en"] if k.startswith(("sms.", "outreach."))])
def test_sms_texts_stay_in_gsm7_and_three_segments(key):
    body = messages.text(key, clinic=CLINIC, first_name="Alexandria", when="Wednesday 30 December at 10:30 AM")
    assert is_gsm7(body) and segments(body) <= 3, body


def test_clinic_details_are_filled_in():
    assert messages.text("sms.help", clinic=CLINIC).startswith("Demo Botox Clinic Botox patient assistant")
    assert "{" not in messages.text("sms.opted_out", clinic=CLINIC)
