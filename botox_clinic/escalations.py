"""Durable record of escalations and of their delivery to the clinic (an outbox).

An escalation and one delivery row per notification target are written in one transaction
before the patient is told the clinic was notified. Delivery (botox_clinic/outbox.py) then works from
these rows, so a target that is down, a crash or a restart loses nothing. SQLite by default,
PostgreSQL (or any SQLAlchemy URL) through RECORDS_DB_URL.

The escalation policy's later pages are delivery rows too, one per target and step, named
"<target>#<step>" ("sms#1", "sms#2"; the first page, step 0, is plain "sms"): they get the same
claiming and retries, each page has its own idempotency key, and the rows themselves say which steps
were issued (their primary key lets only one worker issue a step), so a restarted worker neither
repeats nor skips one. Each step issued is also a "paged" row of the escalation's audit log
(escalation_events), written in the same transaction as its deliveries.
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from botox_clinic import records
from botox_clinic.records import escalation_deliveries as deliveries
from botox_clinic.records import escalation_events, escalation_notes, escalations, iso_time, utc_now_iso
from botox_clinic.settings import ON_CALL

PENDING = "pending"
DELIVERED = "delivered"
# A later page still waiting to go out when the escalation was acknowledged: it is never sent.
CANCELLED = "cancelled"

SYSTEM = "system"  # the actor of the events this module writes
PAGED = "paged"
# What a clinician does in the staff inbox (botox_clinic/inbox_store.py): after either, nobody is
# paged again.
ACKNOWLEDGED, RESOLVED = "acknowledged", "resolved"
TAKEN_ACTIONS = (ACKNOWLEDGED, RESOLVED)
STEP_SEPARATOR = "#"


@dataclass(frozen=True)
class Escalation:
    id: str
    created_at: str
    channel: str
    sender_id: str
    tier: str
    symptoms: List[str]
    message: str
    recent_turns: List[dict]

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @property
    def created_timestamp(self) -> float:
        """When it was recorded, in seconds since the epoch: the policy's pages are timed from it."""
        return datetime.fromisoformat(self.created_at).timestamp()


@dataclass(frozen=True)
class Delivery:
    escalation_id: str
    target: str
    state: str
    attempts: int
    next_attempt_at: float
    last_error: Optional[str]
    delivered_at: Optional[str]


@dataclass(frozen=True)
class EscalationEvent:
    at: str
    actor: str
    action: str
    detail: dict


def delivery_name(target: str, step: int) -> str:
    """The delivery row's name for `target` at the policy's step `step` (0 is the first notice)."""
    return target if step == 0 else f"{target}{STEP_SEPARATOR}{step}"


def parse_delivery_name(name: str) -> Tuple[str, int]:
    """(target, step) from a delivery row's name: "sms#2" -> ("sms", 2), "sms" -> ("sms", 0)."""
    target, _, step = name.partition(STEP_SEPARATOR)
    return target, int(step or 0)


def new_reference() -> str:
    """A short reference a patient can read out on the phone: no 0/O or 1/I look-alikes."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "E-" + "".join(secrets.choice(alphabet) for _ in range(8))


class EscalationStore:
    def __init__(self, url: str):
        self._engine = records.engine(url)

    def record(self, *, channel: str, sender_id: str, tier: str, symptoms: Sequence[str], message: str,
               recent_turns: Sequence[dict], targets: Iterable[str], now: Optional[float] = None) -> Escalation:
        """The escalation and its first page to the on-call `targets`, in one transaction."""
        now = time.time() if now is None else now
        escalation = Escalation(new_reference(), iso_time(now), channel or "unknown", sender_id, tier,
                                list(symptoms), message, list(recent_turns))
        targets = list(targets)
        with self._engine.begin() as conn:
            conn.execute(escalations.insert().values(
                id=escalation.id, created_at=escalation.created_at, channel=escalation.channel,
                sender_id=escalation.sender_id, tier=tier, symptoms=json.dumps(escalation.symptoms),
                message=message, recent_turns=json.dumps(escalation.recent_turns)))
            if targets:
                _insert_page(conn, escalation.id, now, step=0, role=ON_CALL, targets=targets)
        return escalation

    def issue_page(self, escalation_id: str, step: int, role: str, targets: Sequence[str], now: float,
                   note: Optional[str] = None) -> bool:
        """Queue the policy's step `step` to `targets` and log it; False when it was issued already
        (by another worker, or before a restart) or the escalation has been acknowledged meanwhile."""
        try:
            with self._engine.begin() as conn:
                if _is_taken(conn, escalation_id):
                    return False
                _insert_page(conn, escalation_id, now, step=step, role=role, targets=targets, note=note)
        except sa.exc.IntegrityError:  # the step's delivery rows exist: it was issued before
            return False
        return True

    def awaiting_pages(self, tier: str, last_step: int) -> List[Tuple[Escalation, List[str]]]:
        """Escalations of `tier` that were paged, are not acknowledged and have not had step
        `last_step` yet, each with the names of its delivery rows (which say the steps issued).

        Paged means a "paged" event: escalations recorded before the policy existed have none, and
        are not paged again all at once when it is deployed."""
        paged = sa.exists().where((escalation_events.c.escalation_id == escalations.c.id)
                                  & (escalation_events.c.action == PAGED))
        finished = sa.exists().where((deliveries.c.escalation_id == escalations.c.id)
                                     & (deliveries.c.target.like(f"%{STEP_SEPARATOR}{last_step}")))
        query = escalations.select().where((escalations.c.tier == tier) & paged & ~finished & ~_taken(escalations.c.id))
        with self._engine.connect() as conn:
            return [(escalation_from_row(row), list(conn.execute(
                sa.select(deliveries.c.target).where(deliveries.c.escalation_id == row.id)).scalars()))
                for row in conn.execute(query.order_by(escalations.c.created_at)).fetchall()]

    def acknowledged(self, escalation_id: str) -> bool:
        """Whether a clinician has acknowledged (or already resolved) the escalation: then nobody is
        paged about it again."""
        with self._engine.connect() as conn:
            return _is_taken(conn, escalation_id)

    def events(self, escalation_id: str) -> List[EscalationEvent]:
        """The escalation's audit log, oldest first."""
        with self._engine.connect() as conn:
            return [EscalationEvent(row.at, row.actor, row.action, json.loads(row.detail)) for row in conn.execute(
                escalation_events.select().where(escalation_events.c.escalation_id == escalation_id)
                .order_by(escalation_events.c.id))]

    def add_note_for_sender(self, sender_id: str, note: str) -> List[str]:
        """Note `note` on every escalation of this conversation; returns their references."""
        with self._engine.begin() as conn:
            ids = [row.id for row in conn.execute(
                sa.select(escalations.c.id).where(escalations.c.sender_id == sender_id))]
            for escalation_id in ids:
                conn.execute(escalation_notes.insert().values(
                    escalation_id=escalation_id, created_at=utc_now_iso(), note=note))
        return ids

    def notes(self, escalation_id: str) -> List[str]:
        with self._engine.connect() as conn:
            return [row.note for row in conn.execute(
                sa.select(escalation_notes.c.note).where(escalation_notes.c.escalation_id == escalation_id)
                .order_by(escalation_notes.c.created_at))]

    def get(self, escalation_id: str) -> Optional[Escalation]:
        with self._engine.connect() as conn:
            row = conn.execute(escalations.select().where(escalations.c.id == escalation_id)).first()
        return escalation_from_row(row) if row else None

    def claim_due(self, worker_lease_seconds: float, limit: int = 20, now: Optional[float] = None) -> List[Delivery]:
        """Take due deliveries for this worker; a crashed worker's claims expire after the lease."""
        now = time.time() if now is None else now
        due = (deliveries.c.state == PENDING) & (deliveries.c.next_attempt_at <= now) & (
            deliveries.c.claimed_until <= now)
        claimed = []
        with self._engine.begin() as conn:
            rows = conn.execute(deliveries.select().where(due).order_by(deliveries.c.next_attempt_at)
                                .limit(limit)).fetchall()
            for row in rows:
                # Conditional update: of two workers racing for a row, only one sees rowcount 1.
                result = conn.execute(deliveries.update().where(
                    (deliveries.c.escalation_id == row.escalation_id) & (deliveries.c.target == row.target)
                    & due).values(claimed_until=now + worker_lease_seconds))
                if result.rowcount == 1:
                    claimed.append(_delivery(row))
        return claimed

    def mark_delivered(self, escalation_id: str, target: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(deliveries.update().where(
                (deliveries.c.escalation_id == escalation_id) & (deliveries.c.target == target)).values(
                state=DELIVERED, delivered_at=utc_now_iso(), attempts=deliveries.c.attempts + 1,
                claimed_until=0.0, last_error=None))

    def mark_cancelled(self, escalation_id: str, target: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(deliveries.update().where(
                (deliveries.c.escalation_id == escalation_id) & (deliveries.c.target == target)).values(
                state=CANCELLED, claimed_until=0.0))

    def mark_failed_attempt(self, escalation_id: str, target: str, error: str, retry_at: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(deliveries.update().where(
                (deliveries.c.escalation_id == escalation_id) & (deliveries.c.target == target)).values(
                attempts=deliveries.c.attempts + 1, next_attempt_at=retry_at, claimed_until=0.0,
                last_error=error[:500]))

    def list(self, undelivered_only: bool = False, limit: int = 100) -> List[tuple]:
        """(escalation, [deliveries]) pairs, newest first.

        Undelivered means a delivery still pending, or no target configured at all: either way no
        clinician has been told yet.
        """
        query = escalations.select()
        if undelivered_only:
            pending = sa.exists().where((deliveries.c.escalation_id == escalations.c.id)
                                        & (deliveries.c.state == PENDING))
            any_target = sa.exists().where(deliveries.c.escalation_id == escalations.c.id)
            query = query.where(pending | ~any_target)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(escalations.c.created_at.desc(), escalations.c.id)
                                .limit(limit)).fetchall()
            return [(escalation_from_row(row), [_delivery(d) for d in conn.execute(
                deliveries.select().where(deliveries.c.escalation_id == row.id)
                .order_by(deliveries.c.target)).fetchall()]) for row in rows]

    def dispose(self) -> None:
        self._engine.dispose()


def _taken(escalation_id) -> sa.sql.ColumnElement:
    """True when the escalation has an acknowledged or resolved event."""
    return sa.exists().where((escalation_events.c.escalation_id == escalation_id)
                             & escalation_events.c.action.in_(TAKEN_ACTIONS))


def _is_taken(conn, escalation_id: str) -> bool:
    return conn.execute(sa.select(_taken(escalation_id))).scalar()


def _insert_page(conn, escalation_id: str, now: float, *, step: int, role: str, targets: Sequence[str],
                 note: Optional[str] = None) -> None:
    """One step's page: a pending delivery per target, and its "paged" event in the audit log."""
    for target in targets:
        conn.execute(deliveries.insert().values(
            escalation_id=escalation_id, target=delivery_name(target, step), state=PENDING, attempts=0,
            next_attempt_at=now, claimed_until=0.0))
    detail = {"step": step, "role": role, "targets": list(targets), **({"note": note} if note else {})}
    conn.execute(escalation_events.insert().values(
        escalation_id=escalation_id, at=iso_time(now), actor=SYSTEM, action=PAGED, detail=json.dumps(detail)))


def escalation_from_row(row) -> Escalation:
    return Escalation(row.id, row.created_at, row.channel, row.sender_id, row.tier, json.loads(row.symptoms),
                      row.message, json.loads(row.recent_turns))


def _delivery(row) -> Delivery:
    return Delivery(row.escalation_id, row.target, row.state, row.attempts, row.next_attempt_at,
                    row.last_error, row.delivered_at)
