"""SMS outreach from a CSV of appointments: an invitation before the visit, a check-in after it.

    python -m commands.outreach invite appointments.csv [--rate 1] [--now ISO]
    python -m commands.outreach follow-up appointments.csv [--rate 1] [--now ISO]

CSV columns: phone, first_name, appointment_time, treatment_type (medical|cosmetic), and optional
language. appointment_time is ISO 8601 ("2026-11-23 14:30"), with an offset or in the clinic's time
zone (clinic/settings.yml). language is en or es (also "es-US", "Spanish", "español"; empty for
English): the messages go in it and the appointment is remembered with it, so the patient's reply
opens a conversation in that language. Any other language is sent in English, with a note.
Each row is checked on its own: a bad row is reported with its line number and the good rows still
go. Opted-out numbers are skipped. Safe to run twice: each (appointment, message) is sent once.
Sending is paced (--rate messages per second) and progress is printed; phone numbers are shown
masked. Exit status: 0 all sent or skipped as expected, 1 some rows were bad or failed to send.
"""
from __future__ import annotations

import csv
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, List, Optional, Tuple
from zoneinfo import ZoneInfo

from botox_clinic import language as languages
from botox_clinic.appointments import Appointment, AppointmentStore
from botox_clinic.messages import template, text
from botox_clinic.settings import Settings
from botox_clinic.sms_state import SmsState
from botox_clinic.twilio import DeliveryError, TwilioClient

REQUIRED_COLUMNS = ("phone", "first_name", "appointment_time", "treatment_type")
INVITE, FOLLOW_UP = "invite", "follow_up"
# A check-in is due the day after the visit: from 12 hours to 3 days after it.
FOLLOW_UP_WINDOW = (timedelta(hours=12), timedelta(days=3))
# The language column's names for a language besides its code (language.supported takes those).
LANGUAGE_NAMES = {"english": "en", "inglés": "en", "ingles": "en", "spanish": "es", "español": "es", "espanol": "es"}


@dataclass
class RowProblem:
    line: int
    reason: str


def mask(phone: str) -> str:
    return phone[:2] + "*" * max(len(phone) - 6, 0) + phone[-4:]


def normalise_phone(raw: str) -> Optional[str]:
    """E.164 (+ and 8 to 15 digits), the form Twilio reports as `From`; a 10-digit number is taken as +1."""
    digits = re.sub(r"[\s().-]", "", raw or "")
    if re.fullmatch(r"\d{10}", digits):
        digits = "+1" + digits
    return digits if re.fullmatch(r"\+[1-9]\d{7,14}", digits) else None


def row_language(raw: str) -> Optional[str]:
    """The language column's value as a language the messages exist in: "" is English; None for one
    the assistant does not speak."""
    raw = (raw or "").strip().lower()
    if not raw:
        return languages.DEFAULT_LANGUAGE
    return LANGUAGE_NAMES.get(raw) or languages.supported(raw)


def parse_rows(path: str, clinic_tz: ZoneInfo) -> Tuple[List[Tuple[int, Appointment, str]], List[RowProblem]]:
    """The good rows as (line, appointment, the row's language as written) and the bad rows' problems."""
    good, bad = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(REQUIRED_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            problems = []
            empty = [c for c in REQUIRED_COLUMNS if not (row.get(c) or "").strip()]
            if empty:
                bad.append(RowProblem(line, f"empty {', '.join(empty)}"))
                continue
            phone = normalise_phone(row["phone"])
            if phone is None:
                problems.append("phone number is not valid")
            treatment = row["treatment_type"].strip().lower()
            if treatment not in ("medical", "cosmetic"):
                problems.append("treatment_type must be medical or cosmetic")
            try:
                starts_at = datetime.fromisoformat(row["appointment_time"].strip())
                if starts_at.tzinfo is None:
                    starts_at = starts_at.replace(tzinfo=clinic_tz)
            except ValueError:
                problems.append("appointment_time is not a date and time (YYYY-MM-DD HH:MM)")
                starts_at = None
            if problems:
                bad.append(RowProblem(line, "; ".join(problems)))
                continue
            language = (row.get("language") or "").strip()
            good.append((line, Appointment(phone, row["first_name"].strip(), starts_at, treatment,
                                           row_language(language) or languages.DEFAULT_LANGUAGE), language))
    return good, bad


def when(starts_at: datetime, language: str) -> str:
    """The appointment as the invitation writes it, in its own time zone: "Monday 23 November at
    2:30 PM", "lunes 23 de noviembre a las 2:30 p. m.". From the catalogue, not strftime, whose names
    are the OS locale's."""
    hour = starts_at.hour % 12 or 12
    return text("dates.appointment_one_oclock" if hour == 1 else "dates.appointment", language,
                weekday=template("dates.weekdays", language).split(",")[starts_at.weekday()],
                day=str(starts_at.day), month=template("dates.months", language).split(",")[starts_at.month - 1],
                hour=str(hour), minute=f"{starts_at.minute:02d}",
                period=template("dates.periods", language).split(",")[starts_at.hour >= 12])


def message_for(kind: str, appointment: Appointment, settings: Settings) -> str:
    """The message in the appointment's language (run sends it through its `as_sms`)."""
    language = appointment.language
    if kind == INVITE:
        written = when(appointment.starts_at, language)
        body = text("outreach.invite", language, clinic=settings.clinic, first_name=appointment.first_name,
                    when=written)
        # A date ending in an abbreviation ("p. m.") ends the sentence with its own period, not "p. m..".
        return body.replace(written + ".", written) if written.endswith(".") else body
    return text("outreach.follow_up", language, clinic=settings.clinic, first_name=appointment.first_name)


def due(kind: str, appointment: Appointment, now: datetime) -> Optional[str]:
    """None when the message is due, else why not."""
    if kind == INVITE:
        return None if appointment.starts_at > now else "appointment time is in the past"
    since = now - appointment.starts_at
    if since < FOLLOW_UP_WINDOW[0]:
        return "visit not yet over (check-ins go the day after)"
    if since > FOLLOW_UP_WINDOW[1]:
        return "visit was more than 3 days ago"
    return None


def run(kind: str, path: str, rate: float, now: datetime, settings: Settings, out=sys.stdout,
        as_sms: Callable[[str], str] = lambda body: body) -> int:
    """`as_sms` turns a message into the SMS body sent: commands/outreach.py gives it the SMS channel's
    plain_text, which folds the accents outside GSM-7 (á, í, ó, ú) as the conversation's replies are
    folded, so a Spanish text keeps 153 characters a segment (the core may not import channels)."""
    if settings.twilio is None:
        raise SystemExit("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER must be set")
    rows, problems = parse_rows(path, ZoneInfo(settings.clinic.timezone))
    store, sms_state = AppointmentStore(settings.records_db_url), SmsState(settings.records_db_url)
    twilio = TwilioClient(settings.twilio)
    sent = skipped = failed = 0
    for number, (line, appointment, written_language) in enumerate(rows, start=1):
        prefix = f"[{number}/{len(rows)}] line {line} {mask(appointment.phone)}:"
        not_due = due(kind, appointment, now)
        if not_due:
            problems.append(RowProblem(line, not_due))
            continue
        store.remember(appointment)
        if sms_state.is_opted_out(appointment.phone):
            print(f"{prefix} skipped, opted out", file=out)
            skipped += 1
            continue
        if not store.claim(appointment, kind):
            print(f"{prefix} skipped, already sent", file=out)
            skipped += 1
            continue
        try:
            twilio.send_blocking(appointment.phone, as_sms(message_for(kind, appointment, settings)))
        except DeliveryError as exc:
            store.release(appointment, kind)  # the next run tries again
            print(f"{prefix} FAILED ({exc}); will be retried by the next run", file=out)
            failed += 1
            continue
        store.mark_sent(appointment, kind)
        note = "" if row_language(written_language) else f" (language {written_language!r} not available: sent in English)"
        print(f"{prefix} sent{note}", file=out)
        sent += 1
        if rate > 0:
            time.sleep(1 / rate)
    for problem in sorted(problems, key=lambda p: p.line):
        print(f"line {problem.line}: not sent: {problem.reason}", file=out)
    print(f"{kind}: {sent} sent, {skipped} skipped, {len(problems)} rows not sent, {failed} failed", file=out)
    return 1 if failed or problems else 0
