"""What the SMS channel remembers per phone number, in the clinic records database.

- Opt-outs: a patient who texts STOP gets nothing more from us until START. Written (committed)
  before the confirmation is sent, and kept in the same database as escalations, so several Rasa
  replicas and the outreach command all see them.
- The numbered options last offered (buttons on the web become "Reply 1, 2..." by SMS), so a reply
  of "2" means what the patient saw, whichever replica receives it.
"""
from __future__ import annotations

import json
from typing import Dict, Optional

import sqlalchemy as sa

from botox_clinic import records
from botox_clinic.records import sms_offered_choices as offered_choices
from botox_clinic.records import sms_opt_outs as opt_outs
from botox_clinic.records import utc_now_iso


class SmsState:
    def __init__(self, url: str):
        self._engine = records.engine(url)

    def opt_out(self, phone: str, keyword: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(opt_outs.delete().where(opt_outs.c.phone == phone))
            conn.execute(opt_outs.insert().values(
                phone=phone, keyword=keyword, opted_out_at=utc_now_iso()))

    def opt_in(self, phone: str) -> bool:
        """True when the number had opted out."""
        with self._engine.begin() as conn:
            return conn.execute(opt_outs.delete().where(opt_outs.c.phone == phone)).rowcount > 0

    def is_opted_out(self, phone: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(opt_outs.c.phone).where(opt_outs.c.phone == phone)).first() is not None

    def offer_choices(self, phone: str, choices: Dict[str, str]) -> None:
        with self._engine.begin() as conn:
            conn.execute(offered_choices.delete().where(offered_choices.c.phone == phone))
            if choices:
                conn.execute(offered_choices.insert().values(phone=phone, choices=json.dumps(choices)))

    def take_choice(self, phone: str, reply: str) -> Optional[str]:
        """The payload behind a numbered reply, if that number was offered; offers are used once."""
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(offered_choices.c.choices).where(offered_choices.c.phone == phone)).first()
            if row is None:
                return None
            conn.execute(offered_choices.delete().where(offered_choices.c.phone == phone))
        return json.loads(row.choices).get(reply.strip().rstrip("."))
