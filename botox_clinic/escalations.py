"""Durable record of escalations and of their delivery to the clinic (an outbox).

An escalation and one delivery row per notification target are written in one transaction
before the patient is told the clinic was notified. Delivery (botox_clinic/outbox.py) then works from
these rows, so a target that is down, a crash or a restart loses nothing. SQLite by default,
PostgreSQL (or any SQLAlchemy URL) through RECORDS_DB_URL.
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

import sqlalchemy as sa

from botox_clinic import records
from botox_clinic.records import escalation_deliveries as deliveries
from botox_clinic.records import escalation_notes, escalations, utc_now_iso

PENDING = "pending"
DELIVERED = "delivered"

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


@dataclass(frozen=True)
class Delivery:
    escalation_id: str
    target: str
    state: str
    attempts: int
    next_attempt_at: float
    last_error: Optional[str]
    delivered_at: Optional[str]


def new_reference() -> str:
    """A short reference a patient can read out on the phone: no 0/O or 1/I look-alikes."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "E-" + "".join(secrets.choice(alphabet) for _ in range(8))


class EscalationStore:
    def __init__(self, url: str):
        self._engine = records.engine(url)

    def record(self, *, channel: str, sender_id: str, tier: str, symptoms: Sequence[str], message: str,
               recent_turns: Sequence[dict], targets: Iterable[str]) -> Escalation:
        escalation = Escalation(new_reference(), utc_now_iso(), channel or "unknown", sender_id, tier,
                                list(symptoms), message, list(recent_turns))
        now = time.time()
        with self._engine.begin() as conn:
            conn.execute(escalations.insert().values(
                id=escalation.id, created_at=escalation.created_at, channel=escalation.channel,
                sender_id=escalation.sender_id, tier=tier, symptoms=json.dumps(escalation.symptoms),
                message=message, recent_turns=json.dumps(escalation.recent_turns)))
            for target in targets:
                conn.execute(deliveries.insert().values(
                    escalation_id=escalation.id, target=target, state=PENDING, attempts=0,
                    next_attempt_at=now, claimed_until=0.0))
        return escalation

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
        return _escalation(row) if row else None

    def claim_due(self, worker_lease_seconds: float, limit: int = 20) -> List[Delivery]:
        """Take due deliveries for this worker; a crashed worker's claims expire after the lease."""
        now = time.time()
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
            return [(_escalation(row), [_delivery(d) for d in conn.execute(
                deliveries.select().where(deliveries.c.escalation_id == row.id)
                .order_by(deliveries.c.target)).fetchall()]) for row in rows]

    def dispose(self) -> None:
        self._engine.dispose()


def _escalation(row) -> Escalation:
    return Escalation(row.id, row.created_at, row.channel, row.sender_id, row.tier, json.loads(row.symptoms),
                      row.message, json.loads(row.recent_turns))


def _delivery(row) -> Delivery:
    return Delivery(row.escalation_id, row.target, row.state, row.attempts, row.next_attempt_at,
                    row.last_error, row.delivered_at)
