"""The tracker store's per-turn work: every event stored once and in order, with less of it.

Deletion ("forget me", retention) is tested in test_privacy.py."""
import asyncio
import sqlite3

import sqlalchemy as sa
from conftest import stored_events
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.tracker_store import PrivacyAwareSQLTrackerStore


def _turn(tracker, text):
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(ActionExecuted("action_listen"))


def _stored_texts(store, sender):
    return [event.text for event in stored_events(store, sender) if isinstance(event, UserUttered)]


def _statements(store):
    seen = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2].lower()))
    return seen


def test_a_turn_on_a_retrieved_tracker_stores_its_new_events_without_counting_the_stored_ones(store):
    tracker = DialogueStateTracker("ana", store.domain.slots)
    _turn(tracker, "first")
    asyncio.run(store.save(tracker))

    tracker = asyncio.run(store.retrieve("ana"))
    statements = _statements(store)
    _turn(tracker, "second")
    asyncio.run(store.save(tracker))
    _turn(tracker, "third")  # the same tracker saved a second time
    asyncio.run(store.save(tracker))

    assert [s.split()[0] for s in statements] == ["insert", "insert"]
    assert _stored_texts(store, "ana") == ["first", "second", "third"]
    assert len(stored_events(store, "ana")) == 9


def test_a_tracker_the_store_did_not_hand_out_is_counted_and_only_its_new_events_stored(store, tmp_path):
    first = DialogueStateTracker("ana", store.domain.slots)
    _turn(first, "first")
    asyncio.run(store.save(first))  # `store` knows 3 of `first`'s events are stored
    replica = PrivacyAwareSQLTrackerStore(store.domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    second = asyncio.run(replica.retrieve("ana"))
    _turn(second, "second")
    asyncio.run(replica.save(second))
    # Built outside the store from the 6 stored events, plus a turn: what `first` knew must not apply.
    third = DialogueStateTracker.from_events("ana", list(second.events), store.domain.slots)
    _turn(third, "third")
    asyncio.run(store.save(third))
    assert _stored_texts(store, "ana") == ["first", "second", "third"]


def test_two_replicas_taking_turns_on_one_conversation_store_every_turn_once_in_order(store, tmp_path):
    other = PrivacyAwareSQLTrackerStore(store.domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    asyncio.run(store.save(DialogueStateTracker("ana", store.domain.slots)))  # empty: nothing stored
    for index in range(6):
        replica = (store, other)[index % 2]
        tracker = asyncio.run(replica.retrieve("ana")) or DialogueStateTracker("ana", store.domain.slots)
        _turn(tracker, f"turn {index}")
        asyncio.run(replica.save(tracker))
    assert _stored_texts(store, "ana") == [f"turn {index}" for index in range(6)]


def test_a_new_session_in_a_retrieved_tracker_is_stored_once_and_read_back_alone(store):
    tracker = DialogueStateTracker("ana", store.domain.slots)
    _turn(tracker, "last week")
    asyncio.run(store.save(tracker))

    tracker = asyncio.run(store.retrieve("ana"))
    tracker.update(SessionStarted())
    tracker.update(SlotSet("treatment_type", "cosmetic"))
    asyncio.run(store.save(tracker))
    _turn(tracker, "today")
    asyncio.run(store.save(tracker))

    # (Rasa's own save, counting only the latest session's rows, stores three events twice here.)
    assert stored_events(store, "ana") == list(tracker.events)
    session = asyncio.run(store.retrieve("ana"))
    assert [e.text for e in session.events if isinstance(e, UserUttered)] == ["today"]
    assert session.get_slot("treatment_type") == "cosmetic"


def test_rows_carry_the_columns_rasa_queries_by(store, tmp_path):
    tracker = DialogueStateTracker("ana", store.domain.slots)
    _turn(tracker, "hello")
    asyncio.run(store.save(tracker))
    with sqlite3.connect(tmp_path / "t.db") as connection:
        rows = connection.execute("select sender_id, type_name, intent_name, action_name from events order by id").fetchall()
    assert rows == [("ana", "user", "greet", None), ("ana", "action", None, "utter_greet"),
                    ("ana", "action", None, "action_listen")]


def test_the_sqlite_store_commits_to_a_write_ahead_log(store, tmp_path):
    tracker = DialogueStateTracker("ana", store.domain.slots)
    _turn(tracker, "hello")
    asyncio.run(store.save(tracker))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("pragma journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("pragma synchronous").scalar() == 1  # NORMAL
    assert (tmp_path / "t.db-wal").exists()
