"""The clinician inbox: states and their audit rows, replies and held conversations, the order, the
page and its JSON, the live event stream, the summary and its CSV, the accounts command."""
import asyncio
import csv
import io
import json
import re
import threading
from dataclasses import replace
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from inbox_helpers import PASSWORD, SMS_PATIENT, add_clinician, inbox_settings, log_in, page_token, record, record_at
from test_layout import _crossing

from botox_clinic import paths, records
from botox_clinic.appointments import Appointment, AppointmentStore
from botox_clinic.clinic_summary import redact
from botox_clinic.inbox_store import ACKNOWLEDGED, HELD, NEW, RELEASED, REPLIED, RESOLVED, InboxRefused, InboxStore
from botox_clinic.settings import tracker_db_url_from_endpoints
from commands import clinicians
from inbox.app import create_app


@pytest.fixture
def config(tmp_path):
    return inbox_settings(tmp_path)


@pytest.fixture
def db(config):
    return config.records_db_url


@pytest.fixture
def inbox(db):
    return InboxStore(db)


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app, inbox):
    add_clinician(inbox)
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


def _audit(db, escalation_id):
    with records.engine(db).connect() as conn:
        return [(row.actor, row.action, json.loads(row.detail)) for row in conn.execute(
            records.escalation_events.select().where(records.escalation_events.c.escalation_id == escalation_id)
            .order_by(records.escalation_events.c.id))]


# --- States and the audit log -------------------------------------------------------------------

def test_an_escalation_goes_new_acknowledged_resolved_with_who_when_and_an_audit_row_each(db):
    times = iter(["2026-12-01T10:02:00+00:00", "2026-12-01T10:30:00+00:00"])
    store = InboxStore(db, clock=lambda: next(times))
    escalation = record(db)
    assert store.item(escalation.id).state == NEW and store.acknowledged_at(escalation.id) is None

    store.acknowledge(escalation.id, "ana")
    item = store.item(escalation.id)
    assert item.state == ACKNOWLEDGED and (item.acknowledged.actor, item.acknowledged.at) == (
        "ana", "2026-12-01T10:02:00+00:00")
    assert store.acknowledged_at(escalation.id) == "2026-12-01T10:02:00+00:00"

    store.resolve(escalation.id, "ben", "sent_to_emergency_care", "  ambulance called  ")
    item = store.item(escalation.id)
    assert item.state == RESOLVED and item.resolved.actor == "ben"
    assert _audit(db, escalation.id) == [
        ("ana", ACKNOWLEDGED, {}),
        ("ben", RESOLVED, {"outcome": "sent_to_emergency_care", "note": "ambulance called"})]


@pytest.mark.parametrize("attempt, refusal", [
    (lambda s, e: s.resolve(e, "ana", "advised", ""), "acknowledge it before resolving"),
    (lambda s, e: s.reply(e, "ana", "hello"), "acknowledge"),
    (lambda s, e: s.hold_conversation(e, "ana"), "acknowledge"),
    (lambda s, e: s.release_conversation(e, "ana"), "not held"),
], ids=["resolve", "reply", "hold", "release"])
def test_a_new_escalation_must_be_acknowledged_first_and_a_refusal_writes_nothing(db, inbox, attempt, refusal):
    escalation = record(db)
    with pytest.raises(InboxRefused, match=refusal):
        attempt(inbox, escalation.id)
    assert _audit(db, escalation.id) == []
    with records.engine(db).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(records.clinician_messages)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(records.conversation_holds)).scalar() == 0


def test_acknowledging_or_resolving_twice_is_refused(db, inbox):
    escalation = record(db)
    inbox.acknowledge(escalation.id, "ana")
    with pytest.raises(InboxRefused, match="already acknowledged by ana"):
        inbox.acknowledge(escalation.id, "ben")
    inbox.resolve(escalation.id, "ana", "advised", "")
    with pytest.raises(InboxRefused, match="already resolved"):
        inbox.resolve(escalation.id, "ben", "advised", "")
    with pytest.raises(InboxRefused, match="choose an outcome"):
        inbox.resolve(record(db).id, "ana", "made-up outcome", "")
    assert [action for _, action, _ in _audit(db, escalation.id)] == [ACKNOWLEDGED, RESOLVED]


def test_clinicians_acknowledging_at_the_same_moment_give_one_acknowledgement(db, inbox):
    escalation = record(db)
    start, outcomes = threading.Barrier(6), []

    def click(who):
        start.wait()
        try:
            InboxStore(db).acknowledge(escalation.id, who)
            outcomes.append("acknowledged")
        except InboxRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=click, args=(f"clinician{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["acknowledged"] + ["refused"] * 5
    assert [action for _, action, _ in _audit(db, escalation.id)] == [ACKNOWLEDGED]


def test_a_reply_is_queued_for_the_conversations_channel_and_logged(db, inbox):
    escalation = record(db, channel="webchat", sender_id="b1c2-session")
    inbox.acknowledge(escalation.id, "ana")
    message_id = inbox.reply(escalation.id, "ana", "  Please call 911 now.  ")
    with records.engine(db).connect() as conn:
        row = conn.execute(records.clinician_messages.select()).one()
    assert (row.id, row.sender_id, row.channel, row.clinician, row.text, row.escalation_id, row.delivered_at) == (
        message_id, "b1c2-session", "webchat", "ana", "Please call 911 now.", escalation.id, None)
    assert _audit(db, escalation.id)[-1] == ("ana", REPLIED, {"message_id": message_id, "text": "Please call 911 now."})
    with pytest.raises(InboxRefused, match="empty"):
        inbox.reply(escalation.id, "ana", "   ")
    with pytest.raises(InboxRefused, match="longer than 1600"):
        inbox.reply(escalation.id, "ana", "x" * 1601)


def test_taking_a_conversation_over_holds_it_until_closed_and_a_held_one_cannot_be_resolved(db, inbox):
    escalation = record(db)
    inbox.acknowledge(escalation.id, "ana")
    inbox.hold_conversation(escalation.id, "ana")
    hold = inbox.conversation_hold(SMS_PATIENT)
    assert (hold.held_by, hold.escalation_id) == ("ana", escalation.id)
    with records.engine(db).connect() as conn:
        row = conn.execute(records.conversation_holds.select()).one()
    assert (row.sender_id, row.channel, row.held_by) == (SMS_PATIENT, "twilio", "ana")
    with pytest.raises(InboxRefused, match="already held by ana"):
        inbox.hold_conversation(escalation.id, "ben")
    with pytest.raises(InboxRefused, match="close the conversation first"):
        inbox.resolve(escalation.id, "ana", "advised", "")

    inbox.release_conversation(escalation.id, "ben")  # a colleague can close it
    assert inbox.conversation_hold(SMS_PATIENT) is None
    inbox.resolve(escalation.id, "ana", "advised", "")
    assert [(actor, action) for actor, action, _ in _audit(db, escalation.id)] == [
        ("ana", ACKNOWLEDGED), ("ana", HELD), ("ben", RELEASED), ("ana", RESOLVED)]


def test_the_inbox_order_is_tier_then_open_before_resolved_then_newest_first(db, inbox):
    times = {}
    for reference, tier, created_at in [
            ("E-URG-OLD", "urgent", "2026-12-01T08:00:00+00:00"), ("E-HAND", "handoff", "2026-12-01T12:00:00+00:00"),
            ("E-EMG-OLD", "emergency", "2026-12-01T07:00:00+00:00"), ("E-URG-NEW", "urgent", "2026-12-01T11:00:00+00:00"),
            ("E-EMG-DONE", "emergency", "2026-12-01T11:30:00+00:00"), ("E-EMG-NEW", "emergency", "2026-12-01T09:00:00+00:00")]:
        record_at(db, created_at, tier, reference)
        times[reference] = created_at
    inbox.acknowledge("E-EMG-DONE", "ana")
    inbox.resolve("E-EMG-DONE", "ana", "advised", "")
    assert [item.escalation.id for item in inbox.items()] == [
        "E-EMG-NEW", "E-EMG-OLD", "E-EMG-DONE", "E-URG-NEW", "E-URG-OLD", "E-HAND"]
    assert [item.escalation.id for item in inbox.items(resolved_shown=0)] == [
        "E-EMG-NEW", "E-EMG-OLD", "E-URG-NEW", "E-URG-OLD", "E-HAND"]


# --- The page, its actions and its JSON ---------------------------------------------------------

def test_the_page_shows_what_a_call_back_needs(db, client):
    sms = record(db, message="my eyelid is drooping")
    web = record(db, tier="urgent", channel="webchat", sender_id="0f9e8d-widget-session", message="blurred vision")
    page = client.get("/").text
    card = page[page.index(f'id="{sms.id}"'):page.index(f'id="{web.id}"')]
    for shown in ("Emergency", "difficulty swallowing", "my eyelid is drooping", "SMS", f'href="tel:{SMS_PATIENT}"',
                  "Hi! Ask me anything.", "New", "Acknowledge"):
        assert shown in card, shown
    web_card = page[page.index(f'id="{web.id}"'):]
    assert "Web chat" in web_card and "tel:" not in web_card and "No phone number" in web_card


def test_the_forms_change_the_state_as_the_logged_in_clinician(db, inbox, client):
    escalation = record(db)
    token = page_token(client)
    answer = client.post(f"/escalations/{escalation.id}/acknowledge", data={"csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == f"/#{escalation.id}"
    client.post(f"/escalations/{escalation.id}/reply", data={"csrf_token": token, "text": "Call 911 now, please."})
    client.post(f"/escalations/{escalation.id}/hold", data={"csrf_token": token})
    client.post(f"/escalations/{escalation.id}/release", data={"csrf_token": token})
    refused = client.post(f"/escalations/{escalation.id}/resolve", data={"csrf_token": token, "outcome": ""})
    assert refused.status_code == 302 and inbox.item(escalation.id).state == ACKNOWLEDGED
    client.post(f"/escalations/{escalation.id}/resolve", data={"csrf_token": token, "outcome": "advised",
                                                                "note": "went to A&E"})
    assert [(actor, action) for actor, action, _ in _audit(db, escalation.id)] == [
        ("ana", ACKNOWLEDGED), ("ana", REPLIED), ("ana", HELD), ("ana", RELEASED), ("ana", RESOLVED)]
    page = client.get("/").text
    assert "choose an outcome" in page  # the refusal was shown
    assert "Acknowledged by Dr Ana Ruiz" in page and "Resolved by Dr Ana Ruiz" in page and "went to A&amp;E" in page


def test_patient_text_is_escaped_in_the_page(db, client):
    escalation = record(db, message="<script>alert(1)</script>")
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert escalation.id in page


def test_the_json_api_lists_escalations_in_the_inbox_order(db, inbox, client):
    urgent = record(db, tier="urgent")
    emergency = record(db)
    inbox.acknowledge(emergency.id, "ana")
    listed = client.get("/api/escalations").json["escalations"]
    assert [e["id"] for e in listed] == [emergency.id, urgent.id]
    assert listed[0]["state"] == "acknowledged" and listed[0]["acknowledged"]["by"] == "ana"
    assert listed[1]["callback_number"] == SMS_PATIENT and listed[1]["acknowledged"] is None
    assert listed[1]["recent_turns"][-1] == {"speaker": "patient", "text": "i can't swallow properly"}


def test_the_event_stream_sends_every_card_then_each_new_or_changed_one(db, inbox, app, client):
    app.config.update(INBOX_POLL_SECONDS=0.05, INBOX_STREAM_SECONDS=5)
    first = record(db)
    response = client.get("/events", buffered=False)
    assert response.mimetype == "text/event-stream"
    events = _server_sent_events(response)

    snapshot = next(events)
    assert snapshot["order"] == [first.id] and f'id="{first.id}"' in snapshot["cards"][first.id]["html"]
    second = record(db, tier="urgent", message="my eye won't close")
    update = next(events)
    assert update["order"] == [first.id, second.id] and list(update["cards"]) == [second.id]
    assert "my eye won&#39;t close" in update["cards"][second.id]["html"]
    inbox.acknowledge(first.id, "ana")
    update = next(events)
    assert list(update["cards"]) == [first.id] and "Acknowledged by Dr Ana Ruiz" in update["cards"][first.id]["html"]
    response.close()


def _server_sent_events(response):
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
            if fields.get("event") == "inbox":
                yield json.loads(fields["data"])


# --- The summary ----------------------------------------------------------------------------------

def _acknowledge_at(db, reference, at):
    InboxStore(db, clock=lambda: at).acknowledge(reference, "ana")


def test_the_summary_counts_escalations_per_iso_week_and_tier_with_times_to_acknowledge(db, client):
    # Weeks in the clinic's time zone (America/New_York): Sunday 29 Nov 23:30 there is Monday in UTC.
    record_at(db, "2026-11-30T04:30:00+00:00", "emergency", "E-A")  # Sun 29 Nov in New York: week 48
    record_at(db, "2026-12-01T15:00:00+00:00", "emergency", "E-B")  # week 49
    record_at(db, "2026-12-02T15:00:00+00:00", "emergency", "E-C")
    record_at(db, "2026-12-03T15:00:00+00:00", "emergency", "E-D")  # never acknowledged
    record_at(db, "2026-12-02T16:00:00+00:00", "urgent", "E-E")
    _acknowledge_at(db, "E-A", "2026-11-30T04:31:00+00:00")  # 60 s
    _acknowledge_at(db, "E-B", "2026-12-01T15:02:00+00:00")  # 120 s
    _acknowledge_at(db, "E-C", "2026-12-02T15:10:00+00:00")  # 600 s
    _acknowledge_at(db, "E-E", "2026-12-02T16:30:00+00:00")  # 1800 s

    rows = list(csv.DictReader(io.StringIO(client.get("/summary.csv").text)))
    escalation_rows = [(r["week"], r["tier"], r["escalations"], r["acknowledged"], r["median_minutes_to_acknowledge"],
                        r["worst_minutes_to_acknowledge"]) for r in rows if r["section"] == "escalations"]
    assert escalation_rows == [
        ("2026-W48", "emergency", "1", "1", "1.0", "1.0"),
        ("2026-W49", "emergency", "3", "2", "6.0", "10.0"),
        ("2026-W49", "urgent", "1", "1", "30.0", "30.0"),
        ("all", "emergency", "4", "3", "2.0", "10.0"),
        ("all", "urgent", "1", "1", "30.0", "30.0")]
    page = client.get("/summary").text
    assert "2026-W49" in page and "6 min" in page and "10 min" in page


def _save_conversation(tracker_store, sender_id, turns):
    """Store a conversation as Rasa would: each patient message, the response action and its text."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = []
    for text, ranking, response in turns:
        intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
        events += [UserUttered(text, intents[0], [], {"intent": intents[0], "intent_ranking": intents, "text": text}),
                   ActionExecuted(response), BotUttered("..."), ActionExecuted("action_listen")]
    asyncio.run(tracker_store.save(DialogueStateTracker.from_events(sender_id, events)))


@pytest.fixture
def conversations(tmp_path, inbox, db):
    """A tracker store (Rasa's SQL store, ours) with answered and unanswered questions."""
    from rasa.shared.core.domain import Domain

    from components.tracker_store import PrivacyAwareSQLTrackerStore

    tracker_store = PrivacyAwareSQLTrackerStore(Domain.load(paths.PROJECT_ROOT / "domain.yml"), dialect="sqlite",
                                                db=str(tmp_path / "trackers.db"))
    AppointmentStore(db).remember(Appointment("+15550100777", "Marisol", datetime(2026, 12, 5, 10, tzinfo=timezone.utc), "cosmetic"))
    _save_conversation(tracker_store, SMS_PATIENT, [
        ("what is botox", [("ask_what_is", 0.97)], "utter_what_is"),
        ("can i drink 2 glasses of wine after, text me on 555-010-0123",
         [("nlu_fallback", 0.45), ("ask_aftercare", 0.40), ("ask_downtime", 0.1)], "utter_fallback"),
        ("is it safe with my thyroid meds? my name is Joanna, joanna.smith@example.com",
         [("ask_unsupported_medical", 0.8), ("ask_side_effects", 0.15)], "utter_defer_to_care_team"),
    ])
    _save_conversation(tracker_store, "web-session-4f1e", [
        ("Marisol here, can i lie down after?", [("nlu_fallback", 0.4), ("ask_aftercare", 0.35)], "utter_fallback"),
        ("/ask_aftercare", [("ask_aftercare", 1.0)], "utter_fallback"),  # a button's payload, not a question
        ("=HYPERLINK(\"http://evil.example\")", [("nlu_fallback", 0.3)], "utter_fallback"),
    ])
    return tracker_store


def test_the_summary_groups_unanswered_questions_by_topic_without_numbers_names_or_ids(conversations, client):
    rows = list(csv.DictReader(io.StringIO(client.get("/summary.csv").text)))
    topics = {r["topic"]: (r["questions"], r["fallbacks"], r["deferrals"], r["examples"])
              for r in rows if r["section"] == "unanswered"}
    assert topics == {
        "aftercare": ("2", "2", "0", "[name] here, can i lie down after? | "
                                     "can i drink [number] glasses of wine after, text me on [number]"),
        "side effects": ("1", "0", "1", "is it safe with my thyroid meds? my name is [name], [email]"),
        "not recognised": ("1", "1", "0", "'=HYPERLINK(\"http://evil.example\")"),  # not a formula in a spreadsheet
    }
    exported = client.get("/summary.csv").text
    page = re.sub(r'name="csrf_token" value="[^"]*"', "", client.get("/summary").text)
    for private in ("555", "0123", "Joanna", "joanna.smith", "Marisol", SMS_PATIENT, "web-session-4f1e"):
        assert private not in exported and private not in page, private
    assert not re.search(r"\d", "".join(row["examples"] for row in rows))


@pytest.mark.parametrize("text, redacted", [
    ("call me on +1 (555) 010-0123 or 5550100123", "call me on [number] or [number]"),
    ("email ana.b+botox@clinic.example.org", "email [email]"),
    ("I'm Kate and my name is Kate", "I'm [name] and my name is [name]"),
    ("i am worried about 3 units", "i am worried about [number] units"),
])
def test_redaction(text, redacted):
    assert redact(text) == redacted


def test_the_summary_without_a_tracker_store_still_shows_the_escalations(config, db, inbox):
    app = create_app(replace(config, inbox=replace(config.inbox, tracker_db_url=None)))
    add_clinician(inbox)
    client = app.test_client()
    log_in(client)
    record(db)
    assert "No SQL tracker store is configured" in client.get("/summary").text
    assert [row["section"] for row in csv.DictReader(io.StringIO(client.get("/summary.csv").text))] == [
        "escalations", "escalations"]


def test_the_tracker_store_url_comes_from_the_endpoints_file(tmp_path):
    production = paths.PROJECT_ROOT / "deploy/endpoints.production.yml"
    env = {"DB_HOST": "db.internal", "DB_PORT": "5432", "DB_NAME": "rasa", "DB_USER": "rasa", "DB_PASSWORD": "p@ss:word"}
    assert tracker_db_url_from_endpoints(production, env) == "postgresql://rasa:p%40ss%3Aword@db.internal:5432/rasa"
    assert tracker_db_url_from_endpoints(paths.PROJECT_ROOT / "endpoints.yml", {}) == \
        f"sqlite:///{paths.PROJECT_ROOT / 'var/trackers.db'}"
    in_memory = tmp_path / "endpoints.yml"
    in_memory.write_text("tracker_store:\n  type: in_memory\n")
    assert tracker_db_url_from_endpoints(in_memory, {}) is None
    assert tracker_db_url_from_endpoints(tmp_path / "missing.yml", {}) is None


def test_the_inbox_process_loads_neither_rasa_nor_the_assistants_packages():
    # A staff app of its own: it starts in a second and a Rasa change cannot break it.
    assert _crossing("inbox", ("rasa", "rasa_sdk", "actions", "components", "channels")) == []


# --- Accounts -------------------------------------------------------------------------------------

def _run_command(monkeypatch, capsys, db, argv, stdin=""):
    monkeypatch.setenv("RECORDS_DB_URL", db)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    from botox_clinic.settings import get_settings

    get_settings.cache_clear()
    try:
        clinicians.main(argv)
    finally:
        get_settings.cache_clear()
    return capsys.readouterr().out


def test_add_clinician_stores_an_argon2_hash_and_list_shows_the_account(monkeypatch, capsys, db, inbox):
    out = _run_command(monkeypatch, capsys, db, ["add-clinician", "ana", "--name", "Dr Ana Ruiz", "--password-stdin"],
                       PASSWORD + "\n")
    assert out == "added ana\n"
    stored = inbox.clinician("ana")
    assert stored.display_name == "Dr Ana Ruiz" and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash and PASSWORD not in repr(stored)
    listed = _run_command(monkeypatch, capsys, db, ["list"])
    assert listed.startswith("ana\tDr Ana Ruiz\t") and listed.rstrip().endswith("\tactive")


@pytest.mark.parametrize("argv, stdin, refusal", [
    (["add-clinician", "ana", "--name", "Ana", "--password-stdin"], "eleven char\n", "at least 12 characters"),
    (["add-clinician", "Ana Ruiz", "--name", "Ana", "--password-stdin"], PASSWORD + "\n", "username"),
    (["add-clinician", "ana", "--name", " ", "--password-stdin"], PASSWORD + "\n", "--name"),
])
def test_add_clinician_refuses_bad_input(monkeypatch, capsys, db, inbox, argv, stdin, refusal):
    with pytest.raises(SystemExit, match=refusal):
        _run_command(monkeypatch, capsys, db, argv, stdin)
    assert inbox.clinicians() == []


def test_add_clinician_refuses_an_existing_username(monkeypatch, capsys, db, inbox):
    add_clinician(inbox)
    with pytest.raises(SystemExit, match="exists already"):
        _run_command(monkeypatch, capsys, db, ["add-clinician", "ana", "--name", "Other", "--password-stdin"],
                     PASSWORD + "\n")
    assert inbox.clinician("ana").display_name == "Dr Ana Ruiz"


def test_a_clinician_can_log_in_with_the_commands_password(monkeypatch, capsys, db, app):
    _run_command(monkeypatch, capsys, db, ["add-clinician", "ben", "--name", "Ben", "--password-stdin"],
                 PASSWORD + "\n")
    client = app.test_client()
    assert log_in(client, "ben").status_code == 302
    assert client.get("/api/escalations").status_code == 200
