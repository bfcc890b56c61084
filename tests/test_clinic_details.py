"""The clinic's details (clinic/settings.yml) as answers: each from the settings when set there, the
call-us response when not, in the conversation's language; a bad booking link stops the process."""
import asyncio
import itertools

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from test_handoff import clinic_settings_file
from test_message_parts import _response

from botox_clinic.handoff import describe_hours
from botox_clinic.messages import text
from botox_clinic.settings import load_clinic

ADDRESS = "100 Main Street, Suite 2, Springfield"
BOOKING_URL = "https://example.org/book"
_senders = itertools.count(1)


def test_the_address_and_booking_link_are_read_and_optional(tmp_path):
    clinic = load_clinic(str(clinic_settings_file(tmp_path / "a.yml", clinic_address=f"  {ADDRESS} ",
                                                  booking_url=BOOKING_URL)))
    assert (clinic.address, clinic.booking_url) == (ADDRESS, BOOKING_URL)
    bare = load_clinic(str(clinic_settings_file(tmp_path / "b.yml")))
    assert (bare.address, bare.booking_url) == (None, None)


@pytest.mark.parametrize("link", ["http://example.org/book", "example.org/book", "https://example.org/a b", 42])
def test_a_booking_link_that_is_not_https_stops_the_process(tmp_path, link):
    with pytest.raises(ValueError, match="booking_url"):
        load_clinic(str(clinic_settings_file(tmp_path / "c.yml", booking_url=link)))


def _reply(processor, message):
    output = CollectingOutputChannel()
    asyncio.run(processor.handle_message(UserMessage(message, output, f"clinic-{next(_senders)}", input_channel="rest")))
    return " ".join(output.messages[-1]["text"].split())


@pytest.fixture
def clinic_with_details(settings, monkeypatch, tmp_path):
    path = clinic_settings_file(tmp_path / "clinic.yml", clinic_address=ADDRESS, booking_url=BOOKING_URL)
    monkeypatch.setenv("CLINIC_SETTINGS_FILE", str(path))
    settings.cache_clear()
    return load_clinic(str(path))


@pytest.fixture
def clinic_without_details(settings, monkeypatch, tmp_path):
    path = clinic_settings_file(tmp_path / "clinic.yml", opening_hours=None)
    monkeypatch.setenv("CLINIC_SETTINGS_FILE", str(path))
    settings.cache_clear()
    return load_clinic(str(path))


def test_each_detail_set_is_answered_from_the_settings(processor, clinic_with_details):
    clinic = clinic_with_details
    hours = describe_hours(clinic.opening_hours)
    assert _reply(processor, "what's the street address of the clinic?") == text("clinic.location", clinic=clinic,
                                                                                  address=ADDRESS)
    assert _reply(processor, "what time do you open on monday?") == text("clinic.hours", clinic=clinic,
                                                                          opening_hours=hours)
    assert _reply(processor, "how can I phone you?") == text("clinic.contact", clinic=clinic, opening_hours=hours)
    assert _reply(processor, "where can I make a booking?") == text("clinic.booking", clinic=clinic,
                                                                     booking_url=BOOKING_URL)
    assert ADDRESS in _reply(processor, "¿en qué calle queda su consultorio?")
    assert "Monday to Friday 09:00-17:00" in _reply(processor, "when are you open?")


def test_in_spanish_the_details_are_in_spanish(processor, clinic_with_details):
    assert _reply(processor, "¿a qué hora abren los lunes?") == text(
        "clinic.hours", "es", clinic=clinic_with_details, opening_hours=describe_hours(clinic_with_details.opening_hours, "es"))


def test_a_detail_not_set_gets_the_clinics_number(processor, clinic_without_details, domain):
    for message, response in [("what's the street address of the clinic?", "utter_clinic_location"),
                              ("what time do you open on monday?", "utter_clinic_hours"),
                              ("how can I phone you?", "utter_clinic_contact"),
                              ("where can I make a booking?", "utter_booking")]:
        reply = _reply(processor, message)
        assert reply == _response(domain, response), message
        assert clinic_without_details.phone in reply
