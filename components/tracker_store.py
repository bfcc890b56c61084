"""Rasa's SQL tracker store, with the two deletions a patient and the clinic need, and less work a turn.

- "Forget me": when the tracker being saved has the `conversation_deleted` slot set (only
  `action_forget_conversation` sets it, after the patient confirmed), the conversation's events are
  deleted instead of stored. The slot is never stored itself, so only that turn's save sees it.
  Deleting from the action server would not work: Rasa saves the in-memory tracker after the action
  and, finding no stored events, would write the whole conversation back.
- Retention: `delete_inactive_since` deletes conversations whose latest event is older than a
  cutoff (`python -m commands.retention`, default: `retention_days` in the clinic settings file).

Escalation records live in the clinic records database and are kept in both cases (clinical records).

Less work a turn (the store was a quarter of a turn's CPU, and Rasa runs it inside its event loop):
- Saving: Rasa counts the stored events of the session on every save to know which of the tracker's
  events are new. The store remembers how many rows it read for (or wrote from) each tracker it
  handed out, and counts only for a tracker it has not seen. Safe because the lock store lets one
  process at a time handle a conversation, as it already must for Rasa's own count to be right.
  New rows go in as one multi-row insert rather than through the ORM's unit of work.
- Reading: only the `data` column, not whole ORM objects.
- SQLite (the embedded default): pooled connections (SQLAlchemy 1.4 opens a new one for every
  query on a file database) in write-ahead-log mode with `synchronous=NORMAL`, so a commit does not
  wait for the disk. An application crash loses nothing; a power cut can lose the last turns of a
  conversation (never escalations or opt-outs: they are in the records database).

Configured in endpoints.yml as `type: components.tracker_store.PrivacyAwareSQLTrackerStore`.
"""
from __future__ import annotations

import itertools
import json
import logging
import weakref
from typing import Any, Dict, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from botox_clinic.slots import CONVERSATION_DELETED

logger = logging.getLogger(__name__)


class _StoredEventCounts:
    """How many of a live tracker's events are stored, per conversation, forgotten with the tracker."""

    def __init__(self) -> None:
        self._by_sender: Dict[str, Tuple[weakref.ref, int]] = {}

    def remember(self, tracker: DialogueStateTracker, count: int) -> None:
        sender_id = tracker.sender_id

        def forget(reference: weakref.ref) -> None:
            if self._by_sender.get(sender_id, (None,))[0] is reference:
                del self._by_sender[sender_id]

        self._by_sender[sender_id] = (weakref.ref(tracker, forget), count)

    def of(self, tracker: DialogueStateTracker) -> Optional[int]:
        reference, count = self._by_sender.get(tracker.sender_id, (None, None))
        return count if reference is not None and reference() is tracker else None

    def forget(self, sender_id: str) -> None:
        self._by_sender.pop(sender_id, None)


class PrivacyAwareSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            self._use_pooled_wal_connections()
        self._stored_counts = _StoredEventCounts()

    def _use_pooled_wal_connections(self) -> None:
        # What SQLAlchemy 2.0 does by default for SQLite files: a queue pool, connections usable
        # from any thread (the pool hands each to one user at a time).
        self.engine.dispose()
        self.engine = sa.create_engine(self.engine.url, poolclass=sa.pool.QueuePool,
                                       connect_args={"check_same_thread": False})

        @sa.event.listens_for(self.engine, "connect")
        def configure(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).with_entities(
                self.SQLEvent.data).all()
        if not rows or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(data) for (data,) in rows], self.domain.slots)
        self._stored_counts.remember(tracker, len(rows))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        if tracker.get_slot(CONVERSATION_DELETED) is True:
            self.delete_conversation(tracker.sender_id)
            return
        await self.stream_events(tracker)
        stored = self._stored_counts.of(tracker)
        if stored is None and not tracker.events:
            return  # a new, empty tracker: nothing to store, and nothing known to remember
        with self.session_scope() as session:
            if stored is None:
                stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            rows = [self._row(tracker.sender_id, event.type_name, event.as_dict())
                    for event in itertools.islice(tracker.events, stored, None)]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
                session.commit()
        self._stored_counts.remember(tracker, stored + len(rows))

    @staticmethod
    def _row(sender_id: str, type_name: str, data: Dict[str, Any]) -> Dict[str, Any]:
        # The columns Rasa's SQLTrackerStore.save writes, so Rasa's own queries read them back.
        return {"sender_id": sender_id, "type_name": type_name, "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                "action_name": data.get("name"), "data": json.dumps(data)}

    def delete_conversation(self, sender_id: str) -> int:
        """Delete every stored event of one conversation (all its sessions); returns how many."""
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete(
                synchronize_session=False)
            session.commit()
        self._stored_counts.forget(sender_id)
        logger.info("Deleted a conversation at the patient's request (%d events).", deleted)
        return deleted

    def delete_inactive_since(self, cutoff: float) -> int:
        """Delete conversations whose latest event is older than `cutoff` (epoch seconds)."""
        events = self.SQLEvent.__table__
        inactive = (sa.select(events.c.sender_id).group_by(events.c.sender_id)
                    .having(sa.func.max(events.c.timestamp) < cutoff))
        with self.session_scope() as session:
            count = session.execute(sa.select(sa.func.count()).select_from(inactive.subquery())).scalar()
            # One statement re-checking inactivity, so a conversation that just got a message stays.
            session.execute(events.delete().where(events.c.sender_id.in_(inactive)))
            session.commit()
        return count
