"""Upcoming appointments known from outreach, and which outreach messages went out.

Kept in the clinic records database (botox_clinic/records.py) so that:
- a patient's SMS reply opens a conversation that already knows the treatment type and the
  language the outreach was sent in (the session start, components/session_start.py, looks the
  phone number up);
- running the outreach command twice never texts anyone twice: each (appointment, kind) is
  claimed before its message is sent, and a failed send gives the claim back for the next run;
- the notice that texts are not encrypted goes once per number: claimed the same way, per phone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Tuple

import sqlalchemy as sa

from botox_clinic import records
from botox_clinic.records import appointments, outreach_notices, outreach_sent, utc_now_iso


@dataclass(frozen=True)
class Appointment:
    phone: str  # E.164
    first_name: str
    starts_at: datetime  # timezone-aware
    treatment_type: str  # medical | cosmetic
    language: str = "en"  # the outreach messages' language (botox_clinic.language.LANGUAGES)

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.phone}|{self.starts_at.isoformat()}".encode()).hexdigest()


class AppointmentStore:
    def __init__(self, url: str):
        self._engine = records.engine(url)

    def remember(self, appointment: Appointment) -> None:
        with self._engine.begin() as conn:
            conn.execute(appointments.delete().where(appointments.c.key == appointment.key))
            conn.execute(appointments.insert().values(
                key=appointment.key, phone=appointment.phone, first_name=appointment.first_name,
                starts_at=appointment.starts_at.isoformat(), treatment_type=appointment.treatment_type,
                language=appointment.language))

    def treatment_type_for(self, phone: str) -> Optional[str]:
        """The treatment type of the phone's latest known appointment."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(appointments.c.treatment_type).where(appointments.c.phone == phone)
                               .order_by(appointments.c.starts_at.desc()).limit(1)).first()
        return row.treatment_type if row else None

    def language_for(self, phone: str) -> Optional[str]:
        """The language of the phone's latest known appointment; None when there is none, or it was
        remembered before appointments had a language (a NULL from the migration in records.py)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(appointments.c.language).where(appointments.c.phone == phone)
                               .order_by(appointments.c.starts_at.desc()).limit(1)).first()
        return row.language if row else None

    def claim(self, appointment: Appointment, kind: str) -> bool:
        """True if this message is ours to send: nobody has sent or is sending it."""
        try:
            with self._engine.begin() as conn:
                conn.execute(outreach_sent.insert().values(
                    appointment_key=appointment.key, kind=kind, state="sending", at=utc_now_iso()))
            return True
        except sa.exc.IntegrityError:
            return False

    def mark_sent(self, appointment: Appointment, kind: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(outreach_sent.update().where(
                (outreach_sent.c.appointment_key == appointment.key) & (outreach_sent.c.kind == kind))
                .values(state="sent", at=utc_now_iso()))

    def release(self, appointment: Appointment, kind: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(outreach_sent.delete().where(
                (outreach_sent.c.appointment_key == appointment.key) & (outreach_sent.c.kind == kind)))

    def claim_notice(self, appointment: Appointment, kind: str, notice: str) -> bool:
        """True if the number's first-text notice is ours to send (before `kind` for `appointment`):
        it was never sent, and nobody is sending it."""
        try:
            with self._engine.begin() as conn:
                conn.execute(outreach_notices.insert().values(
                    phone=appointment.phone, state="sending", at=utc_now_iso(), appointment_key=appointment.key,
                    kind=kind, notice=notice))
            return True
        except sa.exc.IntegrityError:
            return False

    def mark_notice_sent(self, phone: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(outreach_notices.update().where(outreach_notices.c.phone == phone)
                         .values(state="sent", at=utc_now_iso()))

    def release_notice(self, phone: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(outreach_notices.delete().where(outreach_notices.c.phone == phone))

    def notice_sent(self, phone: str) -> Optional[Tuple[str, str, str, str]]:
        """(when, appointment key, kind, notice) of the number's notice once sent, else None."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(outreach_notices).where(
                (outreach_notices.c.phone == phone) & (outreach_notices.c.state == "sent"))).first()
        return (row.at, row.appointment_key, row.kind, row.notice) if row else None
