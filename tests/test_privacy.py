"""Privacy: "forget me" after confirmation, retention, and what the logs may contain."""
import asyncio
import re
import sqlite3
import time
import uuid

import pytest
from conftest import stored_events
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rest_client import say

from actions.privacy import ActionForgetConversation
from commands import retention
from components.tracker_store import PrivacyAwareSQLTrackerStore


def _save(store, sender, *events):
    tracker = asyncio.run(store.retrieve(sender)) or DialogueStateTracker(sender, store.domain.slots)
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))


def test_a_turn_setting_conversation_deleted_deletes_every_session_and_nothing_else(store):
    _save(store, "ana", UserUttered("my address is 1 Main St"), ActionExecuted("utter_greet"))
    _save(store, "ben", UserUttered("hello"))
    _save(store, "ana", UserUttered("delete my data"), ActionExecuted("action_forget_conversation"),
          SlotSet("conversation_deleted", True))
    assert stored_events(store, "ana") == []
    assert [e.text for e in stored_events(store, "ben") if isinstance(e, UserUttered)] == ["hello"]
    # The next message starts an empty conversation, not one rebuilt from a stale copy.
    _save(store, "ana", UserUttered("hi again"))
    assert [e.text for e in stored_events(store, "ana") if isinstance(e, UserUttered)] == ["hi again"]


def test_other_slots_and_a_false_value_delete_nothing(store):
    _save(store, "ana", UserUttered("hello"), SlotSet("conversation_deleted", False), SlotSet("treatment_type", "medical"))
    assert len(stored_events(store, "ana")) == 3


def test_retention_deletes_conversations_inactive_for_longer_than_the_limit(store, tmp_path, capsys):
    day = 86400
    _save(store, "old", UserUttered("old question", timestamp=time.time() - 100 * day))
    _save(store, "recent", UserUttered("old question", timestamp=time.time() - 100 * day),
          UserUttered("recent question", timestamp=time.time() - 2 * day))
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: components.tracker_store.PrivacyAwareSQLTrackerStore\n"
                         f"  dialect: sqlite\n  db: {tmp_path / 't.db'}\n")
    retention.main(["--days", "30", "--endpoints", str(endpoints)])
    assert "deleted 1 conversation(s)" in capsys.readouterr().out
    assert stored_events(store, "old") == []
    assert len(stored_events(store, "recent")) == 2


def test_retention_refuses_a_store_without_deletion(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp_path / 't.db'}\n")
    with pytest.raises(SystemExit, match="not components.tracker_store"):
        retention.main(["--days", "30", "--endpoints", str(endpoints)])


def test_the_project_endpoints_load_the_privacy_aware_store():
    # Rasa silently falls back to an in-memory store when a custom store's path is wrong.
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path

    config = read_endpoints_from_path("endpoints.yml").tracker_store
    assert config.type == "components.tracker_store.PrivacyAwareSQLTrackerStore"
    assert TrackerStore.create(config, Domain.load("domain.yml")).__class__ is PrivacyAwareSQLTrackerStore


def _confirmation_turns(make_tracker, text, asked: bool):
    tracker = make_tracker(text, intent="affirm", sender_id="patient-9")
    if asked:
        tracker.events.insert(-1, {"event": "action", "name": "utter_confirm_data_deletion"})
        tracker.events.insert(-1, {"event": "action", "name": "action_listen"})
    return tracker


def test_forget_action_without_a_confirmation_asks_and_deletes_nothing(settings, make_tracker, dispatcher, domain):
    events = asyncio.run(ActionForgetConversation().run(dispatcher, _confirmation_turns(make_tracker, "yes", False),
                                                        domain))
    assert [(e["event"], e["name"]) for e in events] == [("followup", "action_listen")]
    assert dispatcher.messages[0]["response"] == "utter_confirm_data_deletion"


def test_forget_action_after_confirmation_deletes_and_notes_kept_escalations(settings, escalations, make_tracker,
                                                                               dispatcher,
                                                                               domain):
    kept = escalations().record(channel="rest", sender_id="patient-9", tier="emergency", symptoms=["breathing"],
                                     message="i can't breathe", recent_turns=[], targets=[])
    events = asyncio.run(ActionForgetConversation().run(dispatcher, _confirmation_turns(make_tracker, "yes", True),
                                                        domain))
    assert [(e["event"], e["name"], e["value"]) for e in events] == [("slot", "conversation_deleted", True)]
    assert escalations().get(kept.id) is not None
    assert "kept as a clinical record" in escalations().notes(kept.id)[0]


def _tracker_rows(db, sender):
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from events where sender_id = ?", (sender,)).fetchone()[0]


def test_forget_me_over_rest_end_to_end_and_logs_hold_no_message_text_or_number(assistant):
    sender = "+1555" + str(uuid.uuid4().int)[:7]  # looks like an SMS sender id
    marker = "zebra" + uuid.uuid4().hex[:8]
    say(assistant.url, sender, f"hello, my name is {marker}")
    say(assistant.url, sender, "i can't breathe properly since my injection")
    assert _tracker_rows(assistant.tracker_db, sender) > 0

    status, replies = say(assistant.url, sender, "please delete my data")
    assert status == 200 and [b["title"] for b in replies[-1]["buttons"]] == ["Yes, delete it", "No, keep it"]
    assert _tracker_rows(assistant.tracker_db, sender) > 0  # nothing deleted before the answer
    status, replies = say(assistant.url, sender, "yes")
    assert "has been deleted" in replies[0]["text"] and "clinical record" in replies[0]["text"]
    assert _tracker_rows(assistant.tracker_db, sender) == 0

    kept = [e for e, _ in assistant.escalations.list(limit=1000) if e.sender_id == sender]
    assert len(kept) == 1 and "kept as a clinical record" in assistant.escalations.notes(kept[0].id)[0]
    # A new message starts a new conversation with the disclaimer.
    status, replies = say(assistant.url, sender, "hi")
    assert "automated assistant" in " ".join(r.get("text", "") for r in replies)

    logs = assistant.log_path.read_text(errors="replace")
    assert marker not in logs and sender not in logs and sender[2:] not in logs
    assert "can't breathe" not in logs
    # Nor any phone number from the SMS tests that share these servers.
    assert not re.search(r"\+\d{10,15}", logs)


def test_declining_deletion_keeps_the_conversation(assistant):
    sender = "keep-" + uuid.uuid4().hex
    say(assistant.url, sender, "forget me")
    status, replies = say(assistant.url, sender, "no, keep it")
    assert "haven't deleted" in replies[0]["text"]
    assert _tracker_rows(assistant.tracker_db, sender) > 0
