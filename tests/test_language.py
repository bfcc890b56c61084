"""The conversation's language (botox_clinic/language.py, components/conversation_language.py,
components/session_start.py)."""
import asyncio

import pytest
from conftest import ROOT
from rasa.core.actions.action import action_for_name_or_text
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.constants import SESSION_START_METADATA_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.appointments import Appointment, AppointmentStore
from botox_clinic.language import (
    DEFAULT,
    MESSAGES,
    OUTREACH,
    PAGE,
    PATIENT,
    SHORT_MESSAGE,
    detect,
    next_language,
    requested_language,
    supported,
)
from components import conversation_language


@pytest.fixture(scope="module")
def rasa_domain():
    return Domain.load(ROOT / "domain.yml")


@pytest.mark.parametrize("text, language", [
    ("español", "es"), ("Español por favor", "es"), ("¿Habla español?", "es"), ("EN ESPANOL", "es"),
    ("spanish please", "es"), ("English please", "en"), ("en inglés", "en"), ("ingles", "en"),
])
def test_a_patient_can_ask_for_a_language(text, language):
    assert requested_language(text) == language


@pytest.mark.parametrize("text", ["i speak spanish at home, does that matter?", "hola", "what is botox"])
def test_other_messages_are_not_language_requests(text):
    assert requested_language(text) is None


@pytest.mark.parametrize("current, source, text, expected", [
    # A conversation opened with "hello" turns to Spanish with the first Spanish question, even a short one.
    ("en", DEFAULT, "hello", None),
    ("en", DEFAULT, "¿cuánto dura el bótox?", ("es", MESSAGES)),
    ("en", DEFAULT, "¿duele?", ("es", SHORT_MESSAGE)),
    ("es", SHORT_MESSAGE, "how long does it last", ("en", MESSAGES)),
    # Established by a few clear words: "ok", "gracias" and Spanglish do not flip it.
    ("es", MESSAGES, "ok", None),
    ("en", MESSAGES, "gracias", None),
    ("en", MESSAGES, "me siento short of breath desde el botox", None),
    ("es", MESSAGES, "how long does it usually last for most people?", ("en", MESSAGES)),
    # Confirming words establish a short message's language.
    ("es", SHORT_MESSAGE, "¿y cuánto tiempo dura el efecto?", ("es", MESSAGES)),
    # The patient's own choice stands until they choose again.
    ("en", DEFAULT, "Español por favor", ("es", PATIENT)),
    ("es", PATIENT, "how long does it usually last for most people?", None),
    ("es", PATIENT, "english please", ("en", PATIENT)),
    ("es", PATIENT, "español", None),
    # The page's or the outreach list's language yields to a patient writing clearly in another.
    ("es", PAGE, "how long does it usually last for most people?", ("en", MESSAGES)),
    ("es", OUTREACH, "ok", None),
    ("en", DEFAULT, "12345 !!", None),
])
def test_the_language_follows_the_patient(current, source, text, expected):
    assert next_language(current, source, text) == expected


def test_detection_of_text_without_letters():
    assert detect("👍 123").language is None


@pytest.mark.parametrize("code, expected", [("es", "es"), ("es-US", "es"), ("ES_mx", "es"), ("en-GB", "en"),
                                            ("fr", None), ("", None), (None, None)])
def test_supported_languages(code, expected):
    assert supported(code) == expected


def _tracker(rasa_domain, *texts, sender="patient-1"):
    tracker = DialogueStateTracker(sender, rasa_domain.slots)
    for text in texts:
        tracker.update(UserUttered(text, {"name": "ask_results_duration", "confidence": 0.9}))
        conversation_language.update(tracker)
    return tracker


def test_the_slots_follow_each_message(rasa_domain):
    tracker = _tracker(rasa_domain, "hello", "¿cuánto tiempo dura el bótox en la frente?")
    assert (tracker.get_slot("language"), tracker.get_slot("language_source")) == ("es", MESSAGES)
    tracker = _tracker(rasa_domain, "¿cuánto tiempo dura el bótox en la frente?", "ok", "gracias")
    assert tracker.get_slot("language") == "es"
    tracker = _tracker(rasa_domain, "¿cuánto tiempo dura el bótox en la frente?", "/ask_results_duration")
    assert tracker.get_slot("language") == "es"


def _start(rasa_domain, tracker):
    action = action_for_name_or_text("action_session_start", rasa_domain, None)
    nlg = TemplatedNaturalLanguageGenerator(rasa_domain.responses)
    return asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, rasa_domain))


def test_the_widgets_page_language_opens_the_conversation_in_spanish(settings, rasa_domain):
    tracker = DialogueStateTracker("web-1", rasa_domain.slots)
    tracker.update(SlotSet(SESSION_START_METADATA_SLOT, {"lang": "es-US"}))
    events = _start(rasa_domain, tracker)
    slots = {e.key: e.value for e in events if isinstance(e, SlotSet)}
    assert (slots["language"], slots["language_source"]) == ("es", PAGE)
    assert "911" in events[0].text and "asistente" in events[0].text.lower()


def test_an_outreach_patient_in_spanish_is_welcomed_in_spanish(settings, rasa_domain):
    from datetime import datetime, timezone
    store = AppointmentStore(settings().records_db_url)
    store.remember(Appointment("+15550100077", "Ana", datetime(2026, 12, 3, 15, tzinfo=timezone.utc), "cosmetic",
                               language="es"))
    events = _start(rasa_domain, DialogueStateTracker("+15550100077", rasa_domain.slots))
    slots = {e.key: e.value for e in events if isinstance(e, SlotSet)}
    assert (slots["language"], slots["language_source"]) == ("es", OUTREACH)
    assert "asistente" in events[0].text.lower()


def test_a_patients_own_choice_outlasts_the_session(settings, rasa_domain):
    tracker = DialogueStateTracker("web-2", rasa_domain.slots)
    tracker.update(SlotSet("language", "en"))
    tracker.update(SlotSet("language_source", PATIENT))
    tracker.update(SlotSet(SESSION_START_METADATA_SLOT, {"lang": "es"}))
    slots = {e.key: e.value for e in _start(rasa_domain, tracker) if isinstance(e, SlotSet)}
    assert (slots["language"], slots["language_source"]) == ("en", PATIENT)


def test_an_sms_conversation_opened_in_spanish_is_welcomed_in_spanish(settings, rasa_domain):
    from botox_clinic.language import MESSAGE_LANGUAGE_KEY, message_language

    tracker = DialogueStateTracker("+15550100078", rasa_domain.slots)
    tracker.update(SlotSet(SESSION_START_METADATA_SLOT,
                           {MESSAGE_LANGUAGE_KEY: message_language("hola, tengo una pregunta sobre el botox")}))
    events = _start(rasa_domain, tracker)
    slots = {e.key: e.value for e in events if isinstance(e, SlotSet)}
    assert (slots["language"], slots["language_source"]) == ("es", MESSAGES)
    assert "asistente" in events[0].text.lower()
