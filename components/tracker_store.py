"""Rasa's SQL tracker store, with the two deletions a patient and the clinic need.

- "Forget me": when the tracker being saved has the `conversation_deleted` slot set (only
  `action_forget_conversation` sets it, after the patient confirmed), the conversation's events are
  deleted instead of stored. The slot is never stored itself, so only that turn's save sees it.
  Deleting from the action server would not work: Rasa saves the in-memory tracker after the action
  and, finding no stored events, would write the whole conversation back.
- Retention: `python -m components.tracker_store --days N` deletes conversations whose latest event
  is older than N days (default: `retention_days` in the clinic settings file).

Escalation records live in the clinic records database and are kept in both cases (clinical records).
Configured in endpoints.yml as `type: components.tracker_store.PrivacyAwareSQLTrackerStore`.
"""
from __future__ import annotations

import argparse
import logging
import time
from typing import Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from actions.privacy import DELETION_SLOT

logger = logging.getLogger(__name__)


class PrivacyAwareSQLTrackerStore(SQLTrackerStore):
    async def save(self, tracker: DialogueStateTracker) -> None:
        if tracker.get_slot(DELETION_SLOT) is True:
            self.delete_conversation(tracker.sender_id)
            return
        await super().save(tracker)

    def delete_conversation(self, sender_id: str) -> int:
        """Delete every stored event of one conversation (all its sessions); returns how many."""
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete(
                synchronize_session=False)
            session.commit()
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


def _open_configured_store(endpoints: str) -> PrivacyAwareSQLTrackerStore:
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path

    store = TrackerStore.create(read_endpoints_from_path(endpoints).tracker_store)
    if not isinstance(store, PrivacyAwareSQLTrackerStore):
        raise SystemExit(f"{endpoints}: tracker_store is {type(store).__name__}, "
                         f"not components.tracker_store.PrivacyAwareSQLTrackerStore")
    return store


def main(argv: Optional[list] = None) -> None:
    from actions.settings import get_settings

    parser = argparse.ArgumentParser(description="Delete conversations inactive for more than N days "
                                                 "(escalation records are kept).")
    parser.add_argument("--days", type=float, default=None,
                        help="default: retention_days in the clinic settings file")
    parser.add_argument("--endpoints", default="endpoints.yml")
    args = parser.parse_args(argv)
    days = args.days if args.days is not None else get_settings().clinic.retention_days
    if days <= 0:
        raise SystemExit("--days must be positive")
    store = _open_configured_store(args.endpoints)
    deleted = store.delete_inactive_since(time.time() - days * 86400)
    print(f"deleted {deleted} conversation(s) inactive for more than {days:g} days")


if __name__ == "__main__":
    main()
