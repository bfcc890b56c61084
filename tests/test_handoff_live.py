"""Human handoff on the running assistant, with the rows the staff inbox writes: a held conversation
gets one notice then silence (red flags still escalate), clinician messages reach REST, the web
chat's open socket and SMS exactly once, a request for a person in and out of opening hours."""
import asyncio
import itertools
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import socketio
from conftest import ROOT, running_assistant, stored_events
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rest_client import say
from socket_client import disconnect
from test_handoff import acknowledge, add_clinician, clinic_settings_file, delivered_at, hold, release_hold, write_message
from test_twilio_sms import sent_to, wait_for
from test_twilio_sms import text as sms

from botox_clinic.escalations import EscalationStore
from botox_clinic.handoff import describe_hours
from botox_clinic.messages import text
from botox_clinic.settings import WEEKDAYS, load_clinic
from components.tracker_store import PrivacyAwareSQLTrackerStore

pytestmark = pytest.mark.live
ALWAYS_OPEN = {day: "00:00-24:00" for day in WEEKDAYS}
RED_FLAG = "I can't breathe and my throat is closing"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def handoff_assistant(tmp_path_factory):
    """In opening hours whenever it runs, and patients are told when their escalation is seen."""
    tmp = tmp_path_factory.mktemp("handoff")
    clinic = clinic_settings_file(tmp / "clinic.yml", opening_hours=ALWAYS_OPEN, tell_patient_when_seen=True)
    with running_assistant(tmp, {"CLINIC_SETTINGS_FILE": str(clinic)}) as running:
        running.clinic = load_clinic(str(clinic))
        add_clinician(running.records_db_url, "ana", "Ana Lopez")
        yield running


def _texts(replies):
    return [r.get("text") for r in replies if r.get("text")]


def _payload(replies):
    return next((r["custom"] for r in replies if isinstance(r.get("custom"), dict)
                 and r["custom"].get("type") == "escalation"), None)


def _escalations_of(assistant, sender):
    return [e for e, _ in assistant.escalations.list(limit=1000) if e.sender_id == sender]


def test_a_held_conversation_gets_one_notice_then_silence_and_a_red_flag_still_escalates(handoff_assistant):
    assistant, sender = handoff_assistant, f"held-{next(_ids)}"
    url, db = assistant.url, assistant.records_db_url
    notice = text("handoff.held", clinic=assistant.clinic)
    assert "neuromodulator" in " ".join(_texts(say(url, sender, "what is botox")[1]))

    hold(db, sender)
    assert say(url, sender, "does it hurt") == (200, [{"recipient_id": sender, "text": notice}])
    assert say(url, sender, "how long does it last") == (200, [])
    write_message(db, sender, "Hi, this is Ana. It usually lasts three to four months.")
    assert _texts(say(url, sender, "ok")[1]) == [
        "Ana Lopez from Demo Botox Clinic: Hi, this is Ana. It usually lasts three to four months."]

    status, replies = say(url, sender, RED_FLAG)
    payload = _payload(replies)
    assert status == 200 and payload and payload["tier"] == "emergency", replies
    assert "911" in " ".join(_texts(replies)) and "don't drive yourself" in " ".join(_texts(replies))
    assert [e.id for e in _escalations_of(assistant, sender)] == [payload["reference"]]
    assert say(url, sender, "thank you") == (200, [])

    trackers = PrivacyAwareSQLTrackerStore(Domain.load(ROOT / "domain.yml"), dialect="sqlite", db=str(assistant.tracker_db))
    said = [e.text for e in stored_events(trackers, sender) if isinstance(e, UserUttered)]
    assert said[-4:] == ["how long does it last", "ok", RED_FLAG, "thank you"]  # recorded for the clinician

    release_hold(db, sender)
    answer = " ".join(_texts(say(url, sender, "does it hurt")[1]))
    assert "discomfort" in answer and notice not in answer
    hold(db, sender, since="2030-01-01T00:00:00+00:00")  # a new hold: told again
    assert _texts(say(url, sender, "hello?")[1]) == [notice]
    release_hold(db, sender)


def test_a_clinician_message_comes_first_in_the_next_rest_reply_and_only_there(handoff_assistant):
    assistant, sender = handoff_assistant, f"rest-{next(_ids)}"
    say(assistant.url, sender, "hello")
    message = write_message(assistant.records_db_url, sender, "Please send us a photo of the area.")
    replies = _texts(say(assistant.url, sender, "what is botox")[1])
    assert replies[0] == "Ana Lopez from Demo Botox Clinic: Please send us a photo of the area."
    assert "neuromodulator" in " ".join(replies[1:])
    assert delivered_at(assistant.records_db_url, message) is not None
    assert not any("Ana Lopez" in t for t in _texts(say(assistant.url, sender, "does it hurt")[1]))


def test_the_patient_is_told_when_a_clinician_has_seen_their_escalation(handoff_assistant):
    assistant, sender = handoff_assistant, f"seen-{next(_ids)}"
    status, replies = say(assistant.url, sender, "my eyelid has been drooping since this morning")
    payload = _payload(replies)
    assert payload and payload["tier"] == "urgent", replies
    acknowledge(assistant.records_db_url, payload["reference"], actor="ana")
    seen = "Ana Lopez from the Demo Botox Clinic care team has seen your message."
    assert _texts(say(assistant.url, sender, "ok")[1])[0] == seen
    assert seen not in _texts(say(assistant.url, sender, "ok")[1])


async def _web_chat(assistant, session_id=None):
    client = socketio.AsyncClient(reconnection=False)
    received, confirmed = [], asyncio.get_running_loop().create_future()
    client.on("bot_uttered", received.append)
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(assistant.url, headers={"Origin": assistant.demo_page_url.rstrip("/")}, transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    return client, await asyncio.wait_for(confirmed, 10), received


async def _until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return predicate()


def test_a_clinician_message_reaches_the_open_web_chat_once_and_waits_for_a_patient_who_left(handoff_assistant):
    assistant, db = handoff_assistant, handoff_assistant.records_db_url
    first = "Ana Lopez from Demo Botox Clinic: I'm here, how can I help?"
    second = "Ana Lopez from Demo Botox Clinic: Are you still there?"

    async def scenario():
        client, session_id, received = await _web_chat(assistant)
        await client.emit("user_uttered", {"message": "what is botox"})
        assert await _until(lambda: any("neuromodulator" in m.get("text", "") for m in received), 30)
        write_message(db, session_id, "I'm here, how can I help?", channel="webchat")
        # Pushed without the patient sending anything.
        assert await _until(lambda: any(m.get("text") == first for m in received), 3), received
        await asyncio.sleep(2)
        assert [m["text"] for m in received if m.get("text") == first] == [first]
        await disconnect(client)

        later = write_message(db, session_id, "Are you still there?", channel="webchat")
        await asyncio.sleep(2)
        assert delivered_at(db, later) is None  # nobody to show it to
        client, again, received = await _web_chat(assistant, session_id)  # the page opened again
        assert again == session_id
        assert await _until(lambda: any(m.get("text") == second for m in received), 3), received
        await asyncio.sleep(2)
        await disconnect(client)
        return [m.get("text") for m in received]

    received = asyncio.run(scenario())
    assert received.count(second) == 1 and first not in received


def test_a_clinician_message_reaches_sms_once_and_never_an_opted_out_number(handoff_assistant):
    assistant, db = handoff_assistant, handoff_assistant.records_db_url
    phone = f"+1555040{next(_ids):04d}"
    sms(assistant, phone, "what is botox")
    wait_for(assistant, phone, "neuromodulator")
    write_message(db, phone, "Hi, it's Ana from the clinic. Call us when you can.", channel="twilio")
    body = "Ana Lopez from Demo Botox Clinic: Hi, it's Ana from the clinic. Call us when you can."
    wait_for(assistant, phone, body, timeout=5)
    time.sleep(2)
    assert sent_to(assistant, phone).count(body) == 1

    sms(assistant, phone, "STOP")
    wait_for(assistant, phone, "unsubscribed")
    later = write_message(db, phone, "Checking in.", channel="twilio")
    time.sleep(2)
    assert not any("Checking in." in b for b in sent_to(assistant, phone)) and delivered_at(db, later) is None
    sms(assistant, phone, "START")
    wait_for(assistant, phone, "Ana Lopez from Demo Botox Clinic: Checking in.", timeout=5)
    time.sleep(1)
    assert sent_to(assistant, phone).count("Ana Lopez from Demo Botox Clinic: Checking in.") == 1


def test_asking_for_a_person_in_opening_hours_creates_a_handoff_request(handoff_assistant):
    assistant, sender = handoff_assistant, f"human-{next(_ids)}"
    status, replies = say(assistant.url, sender, "can I talk to a person")
    assert _texts(replies)[1:] == [text("handoff.requested", clinic=assistant.clinic)] and _payload(replies) is None
    [request] = _escalations_of(assistant, sender)
    assert (request.tier, request.channel, request.message) == ("handoff", "rest", "can I talk to a person")


def test_asking_for_a_person_outside_opening_hours_gives_the_number_and_the_hours(tmp_path):
    # Open only on a weekday three days from now where the clinic is: closed today, whenever this runs.
    clinic_tz = ZoneInfo(load_clinic(str(ROOT / "clinic/settings.yml")).timezone)
    open_day = WEEKDAYS[(datetime.now(clinic_tz) + timedelta(days=3)).weekday()]
    clinic_file = clinic_settings_file(tmp_path / "clinic.yml", opening_hours={open_day: "09:00-17:00"})
    clinic = load_clinic(str(clinic_file))
    with running_assistant(tmp_path, {"CLINIC_SETTINGS_FILE": str(clinic_file)}) as assistant:
        status, replies = say(assistant.url, "closed-1", "can I talk to a person")
        [reply] = _texts(replies)[1:]  # after the welcome
        assert reply == text("handoff.closed", clinic=clinic, opening_hours=describe_hours(clinic.opening_hours))
        assert clinic.phone in reply and f"{open_day.title()} 09:00-17:00" in reply
        assert _escalations_of(assistant, "closed-1") == []
        # In the conversation's language.
        status, replies = say(assistant.url, "closed-2", "¿puedo hablar con una persona de la clínica, por favor?")
        assert _texts(replies)[-1] == text("handoff.closed", "es", clinic=clinic,
                                           opening_hours=describe_hours(clinic.opening_hours, "es"))


def test_without_opening_hours_asking_for_a_person_gives_the_number_as_before(processor, settings, monkeypatch, tmp_path,
                                                                               escalations):
    monkeypatch.setenv("CLINIC_SETTINGS_FILE", str(clinic_settings_file(tmp_path / "clinic.yml", opening_hours=None)))
    settings.cache_clear()
    output = CollectingOutputChannel()
    asyncio.run(processor.handle_message(UserMessage("can I talk to a person", output, "no-hours-1", input_channel="rest")))
    assert _texts(output.messages)[-1].startswith(
        "I'm an automated assistant, so to talk to a person please call Demo Botox Clinic on (555) 010-0199")
    assert escalations().list() == []


def test_a_request_that_could_not_be_recorded_gets_the_number_not_a_promise(processor, settings, monkeypatch, tmp_path):
    def unwritable(self, **details):
        raise OSError("disk full")

    monkeypatch.setattr(EscalationStore, "record", unwritable)
    monkeypatch.setenv("CLINIC_SETTINGS_FILE", str(clinic_settings_file(tmp_path / "clinic.yml", opening_hours=ALWAYS_OPEN)))
    settings.cache_clear()
    output = CollectingOutputChannel()
    asyncio.run(processor.handle_message(UserMessage("can I talk to a person", output, "unrecorded-1", input_channel="rest")))
    assert _texts(output.messages)[-1].startswith(
        "I'm an automated assistant, so to talk to a person please call Demo Botox Clinic on (555) 010-0199")
