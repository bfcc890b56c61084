"""Human handoff, the patient's side, in the clinic records database: whether a clinician holds a
conversation, the messages clinicians wrote to patients and their delivery, and how they read.

The staff inbox writes the rows (conversation_holds, clinician_messages, escalation_events); the
Rasa server reads them: a held conversation gets no answers from the assistant
(components/conversation_hold.py), and each clinician message is delivered once on its
conversation's channel (channels/clinician_messages.py: pushed over the web chat and SMS, put
first in the next REST reply).

Once: a message is claimed by setting its delivered_at where it is still null, so of several Rasa
replicas (or a poll and a REST turn) exactly one delivers it; a channel that could not deliver it
puts it back (`release`) for a later try. A process that dies between the claim and the send loses
that message (it shows as delivered): the schema has no separate claim column, and sending first
would let two replicas both send it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional

import sqlalchemy as sa

from botox_clinic import records
from botox_clinic.escalations import ACKNOWLEDGED
from botox_clinic.messages import DEFAULT_LANGUAGE, template, text
from botox_clinic.records import clinician_messages, clinicians, conversation_holds, escalation_events, escalations, utc_now_iso
from botox_clinic.settings import ClinicSettings, OpeningHours

# The `clinician` of a message the assistant queues itself (the "seen" notice): it is read as it
# is, without a clinician's name in front, because no person wrote it.
SYSTEM = "system"
# An acknowledgement older than this is not news; it also keeps switching tell_patient_when_seen on
# from telling patients about old escalations.
SEEN_NOTICE_WINDOW = timedelta(hours=24)
# How long a claimed message is left to its claimer: longer than one SMS send with its retries
# (botox_clinic/twilio.py).
CLAIM_LEASE_SECONDS = 120.0


@dataclass(frozen=True)
class Hold:
    sender_id: str
    channel: str
    held_by: str
    since: str
    escalation_id: Optional[str]


def hold_from_row(row) -> Hold:
    return Hold(row.sender_id, row.channel, row.held_by, row.since, row.escalation_id)


@dataclass(frozen=True)
class ClinicianMessage:
    id: int
    sender_id: str
    channel: str
    clinician: str
    clinician_name: str  # the clinician's display name, or their username if the account is gone
    text: str


class HandoffStore:
    def __init__(self, url: str):
        self._engine = records.engine(url)

    def hold(self, sender_id: str) -> Optional[Hold]:
        """The clinician's hold on this conversation, if there is one."""
        with self._engine.connect() as conn:
            row = conn.execute(conversation_holds.select().where(conversation_holds.c.sender_id == sender_id)).first()
        return hold_from_row(row) if row else None

    def pending(self, channel: str, sender_id: Optional[str] = None,
                now: Optional[float] = None) -> List[ClinicianMessage]:
        """Undelivered, unclaimed messages for conversations on `channel` (one conversation's if given),
        oldest first."""
        query = (sa.select(clinician_messages, clinicians.c.display_name)
                 .select_from(clinician_messages.outerjoin(
                     clinicians, clinicians.c.username == clinician_messages.c.clinician))
                 .where(clinician_messages.c.delivered_at.is_(None) & (clinician_messages.c.channel == channel)
                        & (clinician_messages.c.claimed_until < (time.time() if now is None else now))))
        if sender_id is not None:
            query = query.where(clinician_messages.c.sender_id == sender_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(clinician_messages.c.id)).fetchall()
        return [ClinicianMessage(row.id, row.sender_id, row.channel, row.clinician, row.display_name or row.clinician,
                                 row.text) for row in rows]

    def claim(self, message_id: int, now: Optional[float] = None) -> bool:
        """Take the undelivered message for delivery for CLAIM_LEASE_SECONDS; True for the one caller
        that took it. The claimer marks it delivered once sent; if it dies first, the lease runs out
        and the message is taken again."""
        now = time.time() if now is None else now
        with self._engine.begin() as conn:
            return conn.execute(clinician_messages.update().where(
                (clinician_messages.c.id == message_id) & clinician_messages.c.delivered_at.is_(None)
                & (clinician_messages.c.claimed_until < now))
                .values(claimed_until=now + CLAIM_LEASE_SECONDS)).rowcount == 1

    def mark_delivered(self, message_id: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(clinician_messages.update().where(clinician_messages.c.id == message_id)
                         .values(delivered_at=utc_now_iso()))

    def release(self, message_id: int) -> None:
        """Put a claimed message back: it could not be delivered this time."""
        with self._engine.begin() as conn:
            conn.execute(clinician_messages.update().where(clinician_messages.c.id == message_id)
                         .values(claimed_until=0.0, delivered_at=None))

    def take_pending(self, channel: str, sender_id: str) -> List[ClinicianMessage]:
        """One conversation's undelivered messages, delivered now: they go into the reply being built."""
        taken = [message for message in self.pending(channel, sender_id) if self.claim(message.id)]
        for message in taken:
            self.mark_delivered(message.id)
        return taken

    def queue_seen_notices(self, channel: str, clinic: ClinicSettings, sender_id: Optional[str] = None,
                           now: Optional[datetime] = None) -> int:
        """Queue "<clinician> has seen your message" for each escalation on `channel` (one
        conversation's if given) acknowledged within SEEN_NOTICE_WINDOW and not yet told; returns
        how many were queued. Its notice is the escalation's SYSTEM message, at most one."""
        since = ((now or datetime.now(timezone.utc)) - SEEN_NOTICE_WINDOW).isoformat(timespec="seconds")
        told = sa.exists().where((clinician_messages.c.escalation_id == escalation_events.c.escalation_id)
                                 & (clinician_messages.c.clinician == SYSTEM))
        query = (sa.select(escalations.c.id, escalations.c.sender_id, escalation_events.c.actor,
                           clinicians.c.display_name)
                 .select_from(escalation_events.join(escalations, escalations.c.id == escalation_events.c.escalation_id)
                              .outerjoin(clinicians, clinicians.c.username == escalation_events.c.actor))
                 .where((escalation_events.c.action == ACKNOWLEDGED) & (escalation_events.c.at >= since)
                        & (escalations.c.channel == channel) & ~told)
                 .order_by(escalation_events.c.id))
        if sender_id is not None:
            query = query.where(escalations.c.sender_id == sender_id)
        with self._engine.connect() as conn:
            acknowledged = conn.execute(query).fetchall()
        return sum(self._queue_seen_notice(row, channel, clinic) for row in acknowledged)

    def _queue_seen_notice(self, row, channel: str, clinic: ClinicSettings) -> bool:
        notice = dict(sender_id=row.sender_id, channel=channel, clinician=SYSTEM, escalation_id=row.id,
                      created_at=utc_now_iso(),
                      text=text("handoff.seen", clinic=clinic, clinician_name=row.display_name or row.actor))
        not_told = ~sa.exists().where((clinician_messages.c.escalation_id == row.id)
                                      & (clinician_messages.c.clinician == SYSTEM))
        with self._engine.begin() as conn:
            # Two processes (Rasa replicas) may try at once. PostgreSQL: the escalation's row lock makes
            # the second wait, and its insert then sees the first one's. SQLite: one statement is atomic.
            conn.execute(sa.select(escalations.c.id).where(escalations.c.id == row.id).with_for_update())
            return conn.execute(clinician_messages.insert().from_select(
                list(notice), sa.select(*(sa.literal(value) for value in notice.values())).where(not_told))).rowcount == 1


def patient_text(message: ClinicianMessage, clinic: ClinicSettings, language: str = DEFAULT_LANGUAGE) -> str:
    """The message as the patient reads it: with who wrote it in front, so they know a person did."""
    if message.clinician == SYSTEM:
        return message.text
    return text("handoff.from_clinician", language, clinic=clinic, clinician_name=message.clinician_name,
                message=message.text)


def describe_hours(hours: OpeningHours, language: str = DEFAULT_LANGUAGE) -> str:
    """e.g. "Monday to Friday 09:00-17:00; Saturday 10:00-13:00": runs of days with the same hours."""
    names = template("dates.weekdays", language).split(",")
    runs: List[list] = []  # [first day, last day, ranges]
    for day, ranges in enumerate(hours.days):
        if runs and runs[-1][2] == ranges and runs[-1][1] == day - 1:
            runs[-1][1] = day
        else:
            runs.append([day, day, ranges])
    return "; ".join(
        f"{_days(names, first, last, language)} {', '.join(f'{_clock(start)}-{_clock(end)}' for start, end in ranges)}"
        for first, last, ranges in runs if ranges)


def _days(names: List[str], first: int, last: int, language: str) -> str:
    if first == last:
        return names[first]
    if last == first + 1:
        return f"{names[first]}, {names[last]}"
    return text("handoff.day_range", language, first=names[first], last=names[last])


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
