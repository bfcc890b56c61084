"""The handoff store (botox_clinic/handoff.py): holds, clinician messages delivered once, how they
read, and the "seen" notices; and the relay that delivers them on a channel
(channels/clinician_messages.py), with fake channels."""
import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, eventually
from test_escalation_store import postgres_url  # noqa: F401  (the PostgreSQL server fixture)

from botox_clinic import handoff, records
from botox_clinic.handoff import CLAIM_LEASE_SECONDS, SYSTEM, HandoffStore, patient_text
from botox_clinic.messages import text
from botox_clinic.settings import ClinicSettings
from channels import clinician_messages
from channels.sms_format import is_gsm7, segments

CLINIC = ClinicSettings("Demo Botox Clinic", "(555) 010-0199", "911")


# Rows as the staff inbox writes them; also used by the live tests (tests/test_handoff_live.py).
def hold(url: str, sender_id: str, channel: str = "rest", held_by: str = "ana", since: str = None) -> None:
    with records.engine(url).begin() as conn:
        conn.execute(records.conversation_holds.insert().values(
            sender_id=sender_id, channel=channel, held_by=held_by, since=since or records.utc_now_iso()))


def release_hold(url: str, sender_id: str) -> None:
    with records.engine(url).begin() as conn:
        conn.execute(records.conversation_holds.delete().where(records.conversation_holds.c.sender_id == sender_id))


def write_message(url: str, sender_id: str, message: str, channel: str = "rest", clinician: str = "ana") -> int:
    with records.engine(url).begin() as conn:
        return conn.execute(records.clinician_messages.insert().values(
            sender_id=sender_id, channel=channel, clinician=clinician, text=message,
            created_at=records.utc_now_iso())).inserted_primary_key[0]


def add_clinician(url: str, username: str = "ana", display_name: str = "Ana Lopez") -> None:
    with records.engine(url).begin() as conn:
        conn.execute(records.clinicians.insert().values(username=username, display_name=display_name,
                                                        password_hash="not-a-hash", created_at=records.utc_now_iso()))


def acknowledge(url: str, escalation_id: str, actor: str = "ana", at: str = None, action: str = "acknowledged") -> None:
    with records.engine(url).begin() as conn:
        conn.execute(records.escalation_events.insert().values(
            escalation_id=escalation_id, at=at or records.utc_now_iso(), actor=actor, action=action, detail="{}"))


def delivered_at(url: str, message_id: int):
    with records.engine(url).connect() as conn:
        return conn.execute(records.clinician_messages.select().where(
            records.clinician_messages.c.id == message_id)).first().delivered_at


def clinic_settings_file(path: Path, **overrides) -> Path:
    """The project's clinic settings with `overrides` (e.g. opening_hours), for CLINIC_SETTINGS_FILE."""
    data = yaml.safe_load((ROOT / "clinic/settings.yml").read_text())
    data.update(overrides)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.live)])
def url(request, settings, monkeypatch):
    """The records database every store and relay here uses: SQLite, and a real PostgreSQL server."""
    if request.param == "sqlite":
        return settings().records_db_url
    url = request.getfixturevalue("postgres_url")
    with records.engine(url).begin() as conn:  # each test starts from empty tables on the shared server
        conn.exec_driver_sql("TRUNCATE clinician_messages, conversation_holds, clinicians, escalation_events, "
                             "escalation_notes, escalation_deliveries, escalations")
    monkeypatch.setenv("RECORDS_DB_URL", url)
    settings.cache_clear()
    return url


def _escalation(escalations, sender_id="p1", channel="rest"):
    return escalations().record(channel=channel, sender_id=sender_id, tier="urgent", symptoms=["drooping eyelid"],
                                message="my eyelid is drooping", recent_turns=[], targets=[])


def test_a_conversation_is_held_while_its_row_exists(url):
    store = HandoffStore(url)
    assert store.hold("p1") is None
    hold(url, "p1", since="2026-12-02T10:00:00+00:00")
    held = store.hold("p1")
    assert (held.sender_id, held.held_by, held.since) == ("p1", "ana", "2026-12-02T10:00:00+00:00")
    assert store.hold("p2") is None
    release_hold(url, "p1")
    assert store.hold("p1") is None


def test_a_message_is_claimed_once_and_put_back_when_it_could_not_be_delivered(url):
    store = HandoffStore(url)
    add_clinician(url)
    first = write_message(url, "p1", "Hello, I'm looking at your message.")
    [pending] = store.pending("rest")
    assert (pending.id, pending.clinician_name, pending.text) == (first, "Ana Lopez", "Hello, I'm looking at your message.")
    assert store.pending("webchat") == [] and store.pending("rest", "p2") == []
    assert store.claim(first) is True
    assert store.claim(first) is False  # a second process (replica) does not deliver it again
    assert store.pending("rest") == [] and delivered_at(url, first) is None
    store.release(first)
    assert [m.id for m in store.pending("rest")] == [first] and delivered_at(url, first) is None
    assert store.claim(first) is True
    store.mark_delivered(first)
    assert store.pending("rest") == [] and delivered_at(url, first) is not None
    assert store.claim(first, now=time.time() + 2 * CLAIM_LEASE_SECONDS) is False  # delivered: never again


def test_a_message_whose_claimer_died_is_delivered_by_another_after_the_lease(url):
    store = HandoffStore(url)
    message = write_message(url, "p1", "Please call us.")
    start = time.time()
    assert store.claim(message, now=start) is True  # ...and that process is killed before sending it
    assert store.pending("rest", now=start + CLAIM_LEASE_SECONDS - 1) == []
    assert store.claim(message, now=start + CLAIM_LEASE_SECONDS - 1) is False
    later = start + CLAIM_LEASE_SECONDS + 1
    assert [m.id for m in store.pending("rest", now=later)] == [message]
    assert store.claim(message, now=later) is True


def test_of_many_racing_claims_exactly_one_wins(url):
    store = HandoffStore(url)
    message = write_message(url, "p1", "Hi")
    wins, start = [], threading.Barrier(8)

    def claim():
        start.wait()
        wins.append(store.claim(message))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(wins) == [False] * 7 + [True]


def test_take_pending_claims_one_conversations_messages_in_order(url):
    store = HandoffStore(url)
    a, b = write_message(url, "p1", "first"), write_message(url, "p1", "second")
    other = write_message(url, "p2", "for someone else")
    sms = write_message(url, "p1", "same sender id on another channel", channel="twilio")
    assert [m.text for m in store.take_pending("rest", "p1")] == ["first", "second"]
    assert store.take_pending("rest", "p1") == []
    assert delivered_at(url, a) and delivered_at(url, b) and not delivered_at(url, other) and not delivered_at(url, sms)


def test_the_patient_reads_who_wrote_it_and_the_clinic(url):
    add_clinician(url)
    write_message(url, "p1", "Please send a photo of the area.")
    write_message(url, "p1", "Call me when you can.", clinician="bob")  # no account: the username
    ana, bob = HandoffStore(url).pending("rest")
    assert patient_text(ana, CLINIC) == "Ana Lopez from Demo Botox Clinic: Please send a photo of the area."
    assert patient_text(bob, CLINIC) == "bob from Demo Botox Clinic: Call me when you can."
    system = handoff.ClinicianMessage(1, "p1", "rest", SYSTEM, SYSTEM, "Ana Lopez has seen your message.")
    assert patient_text(system, CLINIC) == "Ana Lopez has seen your message."


def test_an_acknowledged_escalation_queues_one_seen_notice_for_its_conversation(url, escalations):
    store = HandoffStore(url)
    add_clinician(url)
    mine, sms = _escalation(escalations), _escalation(escalations, "+15550100001", "twilio")
    paged, old = _escalation(escalations, "p2"), _escalation(escalations, "p3")
    acknowledge(url, mine.id)
    acknowledge(url, sms.id)
    acknowledge(url, paged.id, actor="system", action="paged")
    acknowledge(url, old.id, at=(datetime.now(timezone.utc) - timedelta(days=2)).isoformat(timespec="seconds"))
    assert store.queue_seen_notices("rest", CLINIC) == 1
    assert store.queue_seen_notices("rest", CLINIC) == 0
    [notice] = store.pending("rest")
    assert (notice.sender_id, notice.clinician) == ("p1", SYSTEM)
    assert patient_text(notice, CLINIC) == "Ana Lopez from the Demo Botox Clinic care team has seen your message."
    assert store.queue_seen_notices("twilio", CLINIC, sender_id="+15550100009") == 0
    assert store.queue_seen_notices("twilio", CLINIC, sender_id="+15550100001") == 1


def test_seen_notices_queued_by_racing_processes_are_one(url, escalations):
    escalation = _escalation(escalations)
    acknowledge(url, escalation.id)
    counts, start = [], threading.Barrier(6)

    def queue():
        start.wait()
        counts.append(HandoffStore(url).queue_seen_notices("rest", CLINIC))

    threads = [threading.Thread(target=queue) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(counts) == 1 and len(HandoffStore(url).pending("rest")) == 1


@pytest.mark.parametrize("key", ["handoff.held", "handoff.requested", "handoff.closed", "handoff.from_clinician",
                                 "handoff.seen"])
def test_handoff_texts_fit_an_sms(key):
    body = text(key, clinic=CLINIC, clinician_name="Alexandria Montgomery", message="x" * 200,
                opening_hours="Monday to Friday 09:00-12:00, 13:00-17:00; Saturday 10:00-13:00")
    assert is_gsm7(body) and segments(body) <= 3, body


# --- the relay, with fake channels ---------------------------------------------------------------

class FakeChannel:
    def __init__(self, reachable=True, succeeds=True):
        self.sent, self.reachable, self.succeeds = [], reachable, succeeds

    async def deliver(self, sender_id, body):
        self.sent.append((sender_id, body))
        return self.succeeds

    async def can_reach(self, sender_id):
        return self.reachable


def _relay(channel: FakeChannel, name="webchat"):
    return clinician_messages.ClinicianMessageRelay(name, channel.deliver, channel.can_reach)


def test_the_relay_delivers_each_message_once_with_its_author(url):
    add_clinician(url)
    write_message(url, "s1", "Hello from the clinic", channel="webchat")
    write_message(url, "s1", "not for this channel", channel="twilio")
    channel = FakeChannel()
    relay = _relay(channel)
    assert asyncio.run(relay.deliver_pending()) == 1
    assert asyncio.run(relay.deliver_pending()) == 0
    assert channel.sent == [("s1", "Ana Lopez from Demo Botox Clinic: Hello from the clinic")]


def test_a_patient_the_channel_cannot_reach_gets_the_message_when_it_can(url):
    message = write_message(url, "s1", "Are you there?", channel="webchat")
    channel = FakeChannel(reachable=False)
    relay = _relay(channel)
    assert asyncio.run(relay.deliver_pending()) == 0 and delivered_at(url, message) is None
    channel.reachable = True  # the patient opened the page again
    assert asyncio.run(relay.deliver_pending()) == 1 and len(channel.sent) == 1


def test_a_failed_delivery_is_put_back_and_retried_after_a_pause(url, monkeypatch):
    message = write_message(url, "+15550100001", "Please call us", channel="twilio")
    channel = FakeChannel(succeeds=False)
    relay = _relay(channel, "twilio")
    assert asyncio.run(relay.deliver_pending()) == 0 and delivered_at(url, message) is None
    channel.succeeds = True
    assert asyncio.run(relay.deliver_pending()) == 0 and len(channel.sent) == 1  # not yet: it pauses first
    later = time.monotonic() + clinician_messages.RETRY_FIRST_SECONDS + 0.1
    monkeypatch.setattr(clinician_messages.time, "monotonic", lambda: later)
    assert asyncio.run(relay.deliver_pending()) == 1 and len(channel.sent) == 2
    assert delivered_at(url, message) is not None


def test_two_replicas_polling_at_once_deliver_each_message_once(url):
    for i in range(20):
        write_message(url, f"s{i % 3}", f"message {i}", channel="webchat")
    first, second = FakeChannel(), FakeChannel()

    async def both():
        return await asyncio.gather(_relay(first).deliver_pending(), _relay(second).deliver_pending())

    assert sum(asyncio.run(both())) == 20
    assert sorted(body for _, body in first.sent + second.sent) == sorted(
        f"ana from Demo Botox Clinic: message {i}" for i in range(20))


def test_with_tell_patient_when_seen_the_relay_sends_the_notice_once(url, escalations, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("CLINIC_SETTINGS_FILE", str(clinic_settings_file(tmp_path / "clinic.yml", tell_patient_when_seen=True)))
    settings.cache_clear()
    escalation = _escalation(escalations, "s1", "webchat")
    channel = FakeChannel()
    relay = _relay(channel)
    assert asyncio.run(relay.deliver_pending()) == 0
    acknowledge(url, escalation.id, actor="dr-kim")
    assert asyncio.run(relay.deliver_pending()) == 1
    assert asyncio.run(relay.deliver_pending()) == 0
    assert channel.sent == [("s1", "dr-kim from the Demo Botox Clinic care team has seen your message.")]


def test_without_tell_patient_when_seen_nobody_is_told(url, escalations):
    escalation = _escalation(escalations, "s1", "webchat")
    acknowledge(url, escalation.id)
    channel = FakeChannel()
    assert asyncio.run(_relay(channel).deliver_pending()) == 0 and channel.sent == []


def test_a_rest_reply_takes_the_conversations_messages_once(url):
    write_message(url, "p1", "Hello")
    assert asyncio.run(clinician_messages.take_for_reply("rest", "p1")) == ["ana from Demo Botox Clinic: Hello"]
    assert asyncio.run(clinician_messages.take_for_reply("rest", "p1")) == []


def test_a_stalled_database_does_not_hold_the_rest_reply_and_loses_no_message(url, monkeypatch):
    message = write_message(url, "p1", "Hello")
    release, take = threading.Event(), HandoffStore.take_pending

    def stalled(self, channel, sender_id):
        release.wait(10)
        return take(self, channel, sender_id)

    monkeypatch.setattr(HandoffStore, "take_pending", stalled)

    async def reply():
        started = time.monotonic()
        got = await clinician_messages.take_for_reply("rest", "p1")
        elapsed = time.monotonic() - started
        release.set()
        await asyncio.sleep(0.5)  # the late claim completes, and is put back
        return got, elapsed

    got, elapsed = asyncio.run(reply())
    assert got == [] and elapsed < clinician_messages.REPLY_TIMEOUT_SECONDS + 0.2
    assert eventually(lambda: delivered_at(url, message) is None, 5)  # still there for the next reply

