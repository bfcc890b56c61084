"""The clinician inbox's reads and writes on the records database (botox_clinic/records.py).

An escalation's state comes from its audit log, escalation_events, which is append-only: new until
an "acknowledged" row, acknowledged until a "resolved" row. Every change a clinician makes (those
two, a reply, taking a conversation over and closing it) is written together with its audit row in
one transaction, with the clinician's username as the actor. Other processes read through the
helpers here too: the escalation policy (`acknowledged_at`) and the handoff (`conversation_hold`).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from botox_clinic import records
from botox_clinic.escalations import ACKNOWLEDGED, RESOLVED, Escalation, escalation_from_row
from botox_clinic.handoff import Hold, hold_from_row
from botox_clinic.records import appointments, clinician_messages, clinicians, conversation_holds, escalations, utc_now_iso
from botox_clinic.records import escalation_events as events

NEW = "new"  # no acknowledgement yet
REPLIED, HELD, RELEASED = "replied", "held", "released"
# The inbox's order: emergencies, then urgent red flags, then patients asking for a person.
TIER_ORDER = ("emergency", "urgent", "handoff")
# How a clinician can close an escalation; the keys are stored in the audit log.
OUTCOMES = {
    "advised": "Spoke to the patient, advice given",
    "sent_to_emergency_care": "Sent to emergency care",
    "visit_booked": "Booked a visit",
    "no_action_needed": "No action needed",
    "not_reached": "Could not reach the patient",
}
# The SMS channel's conversations are named by the patient's phone number (channels/twilio_sms.py).
SMS_CHANNEL = "twilio"
REPLY_MAX_CHARS = 1600  # Twilio's limit for one message body
NOTE_MAX_CHARS = 2000
# Resolved escalations shown besides every open one.
RESOLVED_SHOWN = 100


class InboxRefused(Exception):
    """A change the escalation's state does not allow; the message says why, for the clinician."""


class ClinicianExists(Exception):
    pass


@dataclass(frozen=True)
class Clinician:
    username: str
    display_name: str
    password_hash: str
    created_at: str
    active: bool

    def __repr__(self) -> str:  # never the hash, in a log or a traceback
        return f"Clinician({self.username!r})"


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: str
    actor: str
    action: str
    detail: dict


@dataclass(frozen=True)
class Reply:
    id: int
    clinician: str
    text: str
    created_at: str
    delivered_at: Optional[str]


@dataclass(frozen=True)
class InboxItem:
    """An escalation with what the clinic has done about it."""
    escalation: Escalation
    events: Tuple[AuditEvent, ...]  # oldest first, the escalation policy's pages included
    hold: Optional[Hold]  # the conversation's, whichever of its escalations it was taken over from
    replies: Tuple[Reply, ...]

    @property
    def acknowledged(self) -> Optional[AuditEvent]:
        return self._first(ACKNOWLEDGED)

    @property
    def resolved(self) -> Optional[AuditEvent]:
        return self._first(RESOLVED)

    @property
    def state(self) -> str:
        return RESOLVED if self.resolved else ACKNOWLEDGED if self.acknowledged else NEW

    @property
    def callback_number(self) -> Optional[str]:
        """The patient's phone number, when the conversation is by SMS."""
        return self.escalation.sender_id if self.escalation.channel == SMS_CHANNEL else None

    @property
    def version(self) -> str:
        """Changes whenever anything shown about the escalation does (the live page compares it)."""
        delivered = sum(1 for reply in self.replies if reply.delivered_at)
        return f"{self.events[-1].id if self.events else 0}.{int(self.hold is not None)}.{delivered}"

    def _first(self, action: str) -> Optional[AuditEvent]:
        return next((event for event in self.events if event.action == action), None)

    def as_dict(self) -> dict:
        acknowledged, resolved = self.acknowledged, self.resolved
        return {
            **self.escalation.as_dict(),
            "state": self.state,
            "callback_number": self.callback_number,
            "acknowledged": acknowledged and {"by": acknowledged.actor, "at": acknowledged.at},
            "resolved": resolved and {"by": resolved.actor, "at": resolved.at, **resolved.detail},
            "hold": self.hold and {"held_by": self.hold.held_by, "since": self.hold.since},
            "replies": [{"by": r.clinician, "text": r.text, "at": r.created_at, "delivered_at": r.delivered_at}
                        for r in self.replies],
            "events": [{"at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail} for e in self.events],
        }


def inbox_order(items: Sequence[InboxItem]) -> List[InboxItem]:
    """By tier, open before resolved within a tier, newest first within those."""
    newest_first = sorted(items, key=lambda item: (item.escalation.created_at, item.escalation.id), reverse=True)
    rank = {tier: i for i, tier in enumerate(TIER_ORDER)}
    return sorted(newest_first, key=lambda item: (rank.get(item.escalation.tier, len(rank)),
                                                  item.state == RESOLVED))


class InboxStore:
    def __init__(self, url: str, clock: Callable[[], str] = utc_now_iso):
        self._engine = records.engine(url)
        self._clock = clock

    # --- Accounts -----------------------------------------------------------------------------

    def add_clinician(self, username: str, display_name: str, password_hash: str) -> Clinician:
        clinician = Clinician(username, display_name, password_hash, self._clock(), True)
        try:
            with self._engine.begin() as conn:
                conn.execute(clinicians.insert().values(**clinician.__dict__))
        except sa.exc.IntegrityError:
            raise ClinicianExists(username) from None
        return clinician

    def clinician(self, username: str) -> Optional[Clinician]:
        with self._engine.connect() as conn:
            row = conn.execute(clinicians.select().where(clinicians.c.username == username)).first()
        return _clinician(row) if row else None

    def clinicians(self) -> List[Clinician]:
        with self._engine.connect() as conn:
            return [_clinician(row) for row in conn.execute(clinicians.select().order_by(clinicians.c.username))]

    # --- Reading ------------------------------------------------------------------------------

    def items(self, resolved_shown: int = RESOLVED_SHOWN) -> List[InboxItem]:
        """Every open escalation and the latest resolved ones, in the inbox's order."""
        resolved_ids = sa.select(events.c.escalation_id).where(events.c.action == RESOLVED)
        with self._engine.connect() as conn:
            rows = conn.execute(escalations.select().where(escalations.c.id.not_in(resolved_ids))).fetchall()
            rows += conn.execute(escalations.select().where(escalations.c.id.in_(resolved_ids))
                                 .order_by(escalations.c.created_at.desc()).limit(resolved_shown)).fetchall()
            return inbox_order(self._items(conn, rows))

    def item(self, escalation_id: str) -> Optional[InboxItem]:
        with self._engine.connect() as conn:
            rows = conn.execute(escalations.select().where(escalations.c.id == escalation_id)).fetchall()
            found = self._items(conn, rows)
        return found[0] if found else None

    def change_marker(self) -> tuple:
        """A cheap value that changes whenever the inbox would show something new (polled by the live page)."""
        def count(table, *where):
            return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()

        with self._engine.connect() as conn:
            return tuple(conn.execute(sa.select(
                count(escalations), sa.select(sa.func.max(events.c.id)).scalar_subquery(), count(conversation_holds),
                count(clinician_messages, clinician_messages.c.delivered_at.isnot(None)))).one())

    def acknowledged_at(self, escalation_id: str) -> Optional[str]:
        """When a clinician acknowledged the escalation (records' ISO format), or None."""
        with self._engine.connect() as conn:
            return conn.execute(sa.select(events.c.at).where(
                (events.c.escalation_id == escalation_id) & (events.c.action == ACKNOWLEDGED))).scalar()

    def conversation_hold(self, sender_id: str) -> Optional[Hold]:
        """The clinician holding this conversation (the assistant stays quiet in it), or None."""
        with self._engine.connect() as conn:
            row = conn.execute(conversation_holds.select().where(conversation_holds.c.sender_id == sender_id)).first()
        return hold_from_row(row) if row else None

    def patient_first_names(self) -> List[str]:
        """The first names the clinic's appointments know (the summary keeps them out of its examples)."""
        with self._engine.connect() as conn:
            return list(conn.execute(sa.select(appointments.c.first_name).distinct()).scalars())

    def acknowledgement_delays(self) -> List[Tuple[str, str, Optional[str]]]:
        """(created_at, tier, acknowledged_at or None) for every escalation, oldest first."""
        acknowledged = events.alias("acknowledged")
        query = (sa.select(escalations.c.created_at, escalations.c.tier, acknowledged.c.at)
                 .select_from(escalations.outerjoin(acknowledged, (acknowledged.c.escalation_id == escalations.c.id)
                                                    & (acknowledged.c.action == ACKNOWLEDGED)))
                 .order_by(escalations.c.created_at))
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    # --- Changes, each with its audit row -----------------------------------------------------

    def acknowledge(self, escalation_id: str, clinician: str) -> None:
        with self._change(escalation_id, "already acknowledged") as (conn, item):
            if item.state != NEW:
                raise InboxRefused(f"{escalation_id} was already acknowledged by {item.acknowledged.actor}")
            self._log(conn, escalation_id, clinician, ACKNOWLEDGED)

    def resolve(self, escalation_id: str, clinician: str, outcome: str, note: str) -> None:
        if outcome not in OUTCOMES:
            raise InboxRefused("choose an outcome")
        if len(note) > NOTE_MAX_CHARS:
            raise InboxRefused(f"the note is longer than {NOTE_MAX_CHARS} characters")
        with self._change(escalation_id, "already resolved") as (conn, item):
            if item.state != ACKNOWLEDGED:
                raise InboxRefused(f"{escalation_id} is {item.state}: acknowledge it before resolving it"
                                   if item.state == NEW else f"{escalation_id} was already resolved")
            if item.hold:
                raise InboxRefused("close the conversation first: the assistant stays quiet while it is held")
            self._log(conn, escalation_id, clinician, RESOLVED, outcome=outcome, note=note.strip())

    def reply(self, escalation_id: str, clinician: str, text: str) -> int:
        """Queue a message to the patient on the conversation's own channel (the handoff delivers it)."""
        text = text.strip()
        if not text:
            raise InboxRefused("the reply is empty")
        if len(text) > REPLY_MAX_CHARS:
            raise InboxRefused(f"the reply is longer than {REPLY_MAX_CHARS} characters")
        with self._change(escalation_id) as (conn, item):
            self._require_acknowledged(item)
            message_id = conn.execute(clinician_messages.insert().values(
                sender_id=item.escalation.sender_id, channel=item.escalation.channel, clinician=clinician,
                text=text, created_at=self._clock(), escalation_id=escalation_id)).inserted_primary_key[0]
            self._log(conn, escalation_id, clinician, REPLIED, message_id=message_id, text=text)
        return message_id

    def hold_conversation(self, escalation_id: str, clinician: str) -> None:
        """Take the patient's conversation over: the assistant stops answering in it until it is closed."""
        with self._change(escalation_id, "the conversation was just taken over") as (conn, item):
            self._require_acknowledged(item)
            if item.state == RESOLVED:
                raise InboxRefused(f"{escalation_id} is resolved")
            if item.hold:
                raise InboxRefused(f"the conversation is already held by {item.hold.held_by}")
            conn.execute(conversation_holds.insert().values(
                sender_id=item.escalation.sender_id, channel=item.escalation.channel, held_by=clinician,
                since=self._clock(), escalation_id=escalation_id))
            self._log(conn, escalation_id, clinician, HELD)

    def release_conversation(self, escalation_id: str, clinician: str) -> None:
        """Close a held conversation: the assistant answers in it again."""
        with self._change(escalation_id) as (conn, item):
            if not item.hold:
                raise InboxRefused("the conversation is not held")
            closed = conn.execute(conversation_holds.delete().where(
                conversation_holds.c.sender_id == item.escalation.sender_id))
            if closed.rowcount != 1:  # closed by someone else a moment ago
                raise InboxRefused("the conversation is not held")
            self._log(conn, escalation_id, clinician, RELEASED, held_by=item.hold.held_by, since=item.hold.since)

    # --- Internals ----------------------------------------------------------------------------

    @contextmanager
    def _change(self, escalation_id: str, on_conflict: str = "someone changed it at the same time"):
        """One change in one transaction: yields (connection, the escalation as it is inside the
        transaction); a unique key hit by a concurrent change becomes InboxRefused."""
        try:
            with self._engine.begin() as conn:
                found = self._items(conn, conn.execute(
                    escalations.select().where(escalations.c.id == escalation_id)).fetchall())
                if not found:
                    raise InboxRefused(f"no escalation {escalation_id}")
                yield conn, found[0]
        except sa.exc.IntegrityError:
            raise InboxRefused(on_conflict) from None

    def _log(self, conn, escalation_id: str, actor: str, action: str, **detail) -> None:
        conn.execute(events.insert().values(escalation_id=escalation_id, at=self._clock(), actor=actor,
                                            action=action, detail=json.dumps(detail)))

    @staticmethod
    def _require_acknowledged(item: InboxItem) -> None:
        if item.state == NEW:
            raise InboxRefused(f"acknowledge {item.escalation.id} first")

    def _items(self, conn, rows) -> List[InboxItem]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        by_escalation: Dict[str, list] = {escalation_id: [] for escalation_id in ids}
        for row in conn.execute(events.select().where(events.c.escalation_id.in_(ids)).order_by(events.c.id)):
            by_escalation[row.escalation_id].append(
                AuditEvent(row.id, row.at, row.actor, row.action, json.loads(row.detail)))
        replies: Dict[str, list] = {escalation_id: [] for escalation_id in ids}
        for row in conn.execute(clinician_messages.select().where(clinician_messages.c.escalation_id.in_(ids))
                                .order_by(clinician_messages.c.id)):
            replies[row.escalation_id].append(Reply(row.id, row.clinician, row.text, row.created_at, row.delivered_at))
        holds = {row.sender_id: hold_from_row(row) for row in conn.execute(conversation_holds.select().where(
            conversation_holds.c.sender_id.in_({row.sender_id for row in rows})))}
        return [InboxItem(escalation_from_row(row), tuple(by_escalation[row.id]), holds.get(row.sender_id),
                          tuple(replies[row.id])) for row in rows]


def _clinician(row) -> Clinician:
    return Clinician(row.username, row.display_name, row.password_hash, row.created_at, bool(row.active))

