"""Conversation start inside the Rasa server (components/session_start.py)."""
import asyncio
from datetime import datetime, timezone

import pytest
from conftest import ROOT
from rasa.core.actions.action import action_for_name_or_text
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.channels.twilio import TwilioOutput
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain, SessionConfig
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.appointments import Appointment, AppointmentStore
from components.session_start import ClinicSessionStart


@pytest.fixture(scope="module")
def rasa_domain():
    return Domain.load(ROOT / "domain.yml")


def _start(rasa_domain, tracker, channel=None):
    action = action_for_name_or_text("action_session_start", rasa_domain, None)
    nlg = TemplatedNaturalLanguageGenerator(rasa_domain.responses)
    return asyncio.run(action.run(channel or CollectingOutputChannel(), nlg, tracker, rasa_domain))


def test_rasa_runs_ours_in_process_not_on_the_action_server(rasa_domain):
    assert type(action_for_name_or_text("action_session_start", rasa_domain, None)) is ClinicSessionStart


def test_a_new_conversation_gets_the_disclaimer_and_the_clinics_details(settings, rasa_domain):
    events = _start(rasa_domain, DialogueStateTracker("patient-1", rasa_domain.slots))
    welcome, started = events[0], events[1]
    assert isinstance(welcome, BotUttered) and isinstance(started, SessionStarted)
    clinic = settings().clinic
    assert clinic.name in welcome.text and "call 911" in welcome.text and "not a substitute" in welcome.text
    slots = {e.key: e.value for e in events if isinstance(e, SlotSet)}
    # The language slots' initial values carry over too: English, set by nothing yet.
    assert slots == {"clinic_name": clinic.name, "clinic_phone": clinic.phone, "emergency_number": "911",
                     "language": "en", "language_source": "default"}
    assert events[-1] == ActionExecuted("action_listen")


def test_by_sms_the_disclaimer_fits_one_segment(settings, rasa_domain):
    events = _start(rasa_domain, DialogueStateTracker("+15550100001", rasa_domain.slots),
                    TwilioOutput("AC" + "1" * 32, "token", "+15550109999"))
    assert "Reply HELP" in events[0].text and len(events[0].text) <= 160


def test_slots_of_the_last_session_carry_over(settings, rasa_domain):
    tracker = DialogueStateTracker("patient-1", rasa_domain.slots)
    tracker.update(SlotSet("treatment_type", "medical"))
    slots = {e.key: e.value for e in _start(rasa_domain, tracker) if isinstance(e, SlotSet)}
    assert slots["treatment_type"] == "medical"


def test_no_slots_carry_over_when_the_domain_says_not_to(settings, rasa_domain, monkeypatch):
    monkeypatch.setattr(rasa_domain, "session_config", SessionConfig(60, carry_over_slots=False))
    tracker = DialogueStateTracker("patient-1", rasa_domain.slots)
    tracker.update(SlotSet("treatment_type", "medical"))
    slots = {e.key for e in _start(rasa_domain, tracker) if isinstance(e, SlotSet)}
    assert slots == {"clinic_name", "clinic_phone", "emergency_number"}


def test_a_reply_to_outreach_knows_the_treatment_type_of_the_appointment(settings, rasa_domain):
    AppointmentStore(settings().records_db_url).remember(
        Appointment("+15550100002", "Ana", datetime(2026, 12, 1, 15, tzinfo=timezone.utc), "cosmetic"))
    slots = {e.key: e.value for e in _start(rasa_domain, DialogueStateTracker("+15550100002", rasa_domain.slots))
             if isinstance(e, SlotSet)}
    assert slots["treatment_type"] == "cosmetic"
    unknown = _start(rasa_domain, DialogueStateTracker("+15550100003", rasa_domain.slots))
    assert "treatment_type" not in {e.key for e in unknown if isinstance(e, SlotSet)}


def test_without_carry_over_the_treatment_type_comes_from_the_appointment(settings, rasa_domain, monkeypatch):
    monkeypatch.setattr(rasa_domain, "session_config", SessionConfig(60, carry_over_slots=False))
    AppointmentStore(settings().records_db_url).remember(
        Appointment("+15550100004", "Ben", datetime(2026, 12, 2, 9, tzinfo=timezone.utc), "medical"))
    tracker = DialogueStateTracker("+15550100004", rasa_domain.slots)
    tracker.update(SlotSet("treatment_type", "cosmetic"))  # from the last session, not carried
    slots = {e.key: e.value for e in _start(rasa_domain, tracker) if isinstance(e, SlotSet)}
    assert slots["treatment_type"] == "medical"
