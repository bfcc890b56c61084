"""The escalation store on both supported databases: SQLite (default) and a real PostgreSQL server."""
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
from conftest import ROOT, escalate
from receivers import free_port

from botox_clinic import records
from botox_clinic.escalations import DELIVERED, PENDING, EscalationStore

POSTGRES_SCRIPT = str(ROOT / "scripts/postgres.sh")


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server of our own for this test session, started by the project's script."""
    directory = tempfile.mkdtemp(prefix="botox-pg-")
    url = subprocess.run([POSTGRES_SCRIPT, "start", directory, str(free_port())], check=True,
                         capture_output=True, text=True).stdout.strip()
    yield url
    subprocess.run([POSTGRES_SCRIPT, "stop", directory], check=True)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.live)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'escalations.db'}"
    url = request.getfixturevalue("postgres_url")
    # Each test starts from empty tables on the shared server.
    store = EscalationStore(url)
    with store._engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE escalation_events, escalation_notes, escalation_deliveries, escalations")
    store.dispose()
    return url


def _record(store, message="i can't swallow", targets=("webhook", "email")):
    return store.record(channel="twilio", sender_id="+15550100123", tier="emergency",
                        symptoms=["difficulty swallowing"], message=message,
                        recent_turns=[{"speaker": "patient", "text": message}], targets=targets)


def test_an_escalation_reads_back_exactly_as_written(store_url):
    store = EscalationStore(store_url)
    message = "je ne peux pas avaler — 😟 " + "x" * 4000
    written = _record(store, message)
    again = EscalationStore(store_url)  # a fresh connection pool, as after a restart
    assert again.get(written.id) == written
    [(listed, deliveries)] = again.list(undelivered_only=True)
    assert listed.id == written.id and [(d.target, d.state) for d in deliveries] == [
        ("email", PENDING), ("webhook", PENDING)]


def test_racing_workers_claim_each_delivery_once(store_url):
    stores = [EscalationStore(store_url) for _ in range(4)]
    for _ in range(10):
        _record(stores[0])
    claims, start = [], threading.Barrier(len(stores))

    def worker(store):
        start.wait()
        for _ in range(5):
            claims.extend((d.escalation_id, d.target) for d in store.claim_due(60, limit=5))

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claims) == 20 and len(set(claims)) == 20


def test_racing_workers_issue_a_policy_step_once_and_none_after_acknowledgement(store_url):
    stores = [EscalationStore(store_url) for _ in range(4)]
    escalation = _record(stores[0])
    issued, start = [], threading.Barrier(len(stores))

    def worker(store):
        start.wait()
        issued.append(store.issue_page(escalation.id, 1, "on_call", ["webhook", "email"], time.time()))

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(issued) == [False, False, False, True]
    [(_, deliveries)] = stores[0].list()
    assert [d.target for d in deliveries] == ["email", "email#1", "webhook", "webhook#1"]
    assert [(e.action, e.detail["step"]) for e in stores[0].events(escalation.id)] == [("paged", 0), ("paged", 1)]
    with stores[0]._engine.begin() as conn:
        conn.execute(records.escalation_events.insert().values(
            escalation_id=escalation.id, at=records.utc_now_iso(), actor="dr.lee", action="acknowledged"))
    assert stores[0].acknowledged(escalation.id)
    assert stores[0].issue_page(escalation.id, 2, "backup", ["webhook"], time.time()) is False
    assert stores[0].awaiting_pages("emergency", last_step=2) == []


def test_a_crashed_workers_claim_expires_after_its_lease(store_url):
    store = EscalationStore(store_url)
    _record(store, targets=("webhook",))
    assert len(store.claim_due(0.5)) == 1
    assert store.claim_due(0.5) == []  # still held by the first worker
    time.sleep(0.6)
    [delivery] = store.claim_due(30)
    store.mark_delivered(delivery.escalation_id, delivery.target)
    assert store.list(undelivered_only=True) == []
    [(_, [done])] = store.list()
    assert done.state == DELIVERED and done.attempts == 1


def test_undelivered_escalations_are_listed_however_many_newer_ones_were_delivered(store_url):
    store = EscalationStore(store_url)
    stuck = _record(store, targets=("webhook",))
    for _ in range(5):
        fine = _record(store, targets=("webhook",))
        store.mark_delivered(fine.id, "webhook")
    assert [e.id for e, _ in store.list(undelivered_only=True, limit=2)] == [stuck.id]


def test_the_escalation_records_in_postgresql(postgres_url, settings, detector, monkeypatch):
    # The old name of RECORDS_DB_URL, still accepted.
    monkeypatch.delenv("RECORDS_DB_URL")
    monkeypatch.setenv("ESCALATION_DB_URL", postgres_url)
    monkeypatch.setenv("ESCALATION_WEBHOOK_URL", "http://127.0.0.1:9/unused")
    monkeypatch.setenv("ESCALATION_WEBHOOK_SECRET", "test-webhook-secret")
    settings.cache_clear()
    slots = escalate("my eyelid is drooping since yesterday", detector, channel="twilio")
    assert slots["escalation_recorded"] is True and slots["escalation_tier"] == "urgent"
    stored = EscalationStore(postgres_url).get(slots["escalation_reference"])
    assert stored.channel == "twilio" and stored.symptoms == ["drooping eyelid or eyebrow"]


def test_every_store_of_the_records_database_creates_its_sqlite_directory(tmp_path):
    # Outreach may be the first thing to open the database on a new machine.
    from botox_clinic.appointments import AppointmentStore
    from botox_clinic.sms_state import SmsState
    for i, store in enumerate((EscalationStore, SmsState, AppointmentStore)):
        store(f"sqlite:///{tmp_path / f'new-{i}' / 'records.db'}")
        assert (tmp_path / f"new-{i}" / "records.db").exists()
