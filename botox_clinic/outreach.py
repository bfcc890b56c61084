"""SMS outreach from a CSV of appointments: an invitation before the visit, check-ins after it.

    python -m commands.outreach invite appointments.csv [--rate 1] [--now ISO]
    python -m commands.outreach check-ins visits.csv [--rate 1] [--now ISO]   # hourly, e.g. from cron

CSV columns: phone, first_name, appointment_time, treatment_type (medical|cosmetic), and optional
language. appointment_time is ISO 8601 ("2026-11-23 14:30"), with an offset or in the clinic's time
zone (clinic/settings.yml). language is en or es (also "es-US", "Spanish", "español"; empty for
English): the messages go in it and the appointment is remembered with it, so the patient's reply
opens a conversation in that language. Any other language is sent in English, with a note.
Each row is checked on its own: a bad row is reported with its line number and the good rows still
go. Opted-out numbers are skipped. Safe to run twice: each (appointment, message) is sent once.

Check-ins (clinic/settings.yml, outreach; default 1, 7 and 14 days after the visit) ask how the
patient feels, since spread-of-toxin symptoms can start hours to weeks after the injection. The
check-in for N days after the visit is due from the start of the sending hours on the day N days
after it (the clinic's time zone) until the next check-in is due (the last one: for 7 days more); a
run outside the sending hours sends nothing, the next one in them does. So a run sends each row at
most the one check-in due then, a check-in missed for a whole window is never sent late, and a row
with nothing due is reported but is not an error: the same file can be run every hour.
The first outreach message ever sent to a number is preceded by a notice that texts are not
encrypted and how to stop them (STOP), recorded per number so that it is sent once.

Sending is paced (--rate messages per second) and progress is printed; phone numbers are shown
masked. Exit status: 0 all sent or skipped as expected, 1 some rows were bad or failed to send (an
invitation for a past appointment is a bad row; a visit with no check-in due now is not).
"""
from __future__ import annotations

import csv
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Callable, List, Optional, Tuple
from zoneinfo import ZoneInfo

from botox_clinic import language as languages
from botox_clinic.appointments import Appointment, AppointmentStore
from botox_clinic.messages import template, text
from botox_clinic.settings import OutreachSettings, Settings
from botox_clinic.sms_state import SmsState
from botox_clinic.twilio import DeliveryError, TwilioClient

REQUIRED_COLUMNS = ("phone", "first_name", "appointment_time", "treatment_type")
# What a run sends: the invitation, or whichever check-in is due.
INVITE, CHECK_INS = "invite", "check_ins"
# The check-in the day after the visit keeps the kind the one check-in had before there were several,
# so an appointment checked in on then is not checked in on again the day after.
FOLLOW_UP = "follow_up"
# How long the last check-in stays due (the others: until the next one is due).
LAST_CHECK_IN_WINDOW = timedelta(days=7)
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


def check_in_kind(days: int) -> str:
    """The outreach_sent kind of the check-in `days` after the visit."""
    return FOLLOW_UP if days == 1 else f"check_in_{days}d"


@dataclass(frozen=True)
class CheckIn:
    days: int
    kind: str
    opens: datetime  # due from (inclusive)
    closes: datetime  # until (exclusive): then the next one is due, or for the last one it is too late


def check_ins(appointment: Appointment, outreach: OutreachSettings, clinic_tz: ZoneInfo) -> List[CheckIn]:
    """The appointment's check-ins, each due from the start of the sending hours on its day."""
    visit_day = appointment.starts_at.astimezone(clinic_tz).date()
    start = outreach.send_hours[0][0]

    def opening(days: int) -> datetime:
        return datetime.combine(visit_day + timedelta(days=days), clock_time(start // 60, start % 60), clinic_tz)

    opens = [opening(days) for days in outreach.check_in_days]
    closes = opens[1:] + [opens[-1] + LAST_CHECK_IN_WINDOW]
    return [CheckIn(days, check_in_kind(days), o, c) for days, o, c in zip(outreach.check_in_days, opens, closes)]


def in_send_hours(now: datetime, outreach: OutreachSettings, clinic_tz: ZoneInfo) -> bool:
    local = now.astimezone(clinic_tz)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in outreach.send_hours)


def hours_text(outreach: OutreachSettings) -> str:
    return ", ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in outreach.send_hours)


def message_for(kind: str, appointment: Appointment, settings: Settings) -> str:
    """The message in the appointment's language (run sends it through its `as_sms`): the invitation,
    the first check-in of the schedule (how are you feeling after your treatment) or a later one
    (checking in again: problems can start weeks after it)."""
    language = appointment.language
    if kind == INVITE:
        written = when(appointment.starts_at, language)
        body = text("outreach.invite", language, clinic=settings.clinic, first_name=appointment.first_name,
                    when=written)
        # A date ending in an abbreviation ("p. m.") ends the sentence with its own period, not "p. m..".
        return body.replace(written + ".", written) if written.endswith(".") else body
    first = check_in_kind(settings.clinic.outreach.check_in_days[0])
    return text("outreach.follow_up" if kind in (first, FOLLOW_UP) else "outreach.check_in", language,
                clinic=settings.clinic, first_name=appointment.first_name)


def notice_for(appointment: Appointment, settings: Settings) -> str:
    """The first-text notice (texts are not encrypted; STOP stops them), in the appointment's language."""
    return text("outreach.notice", appointment.language, clinic=settings.clinic)


def _local(moment: datetime, clinic_tz: ZoneInfo) -> str:
    return moment.astimezone(clinic_tz).strftime("%Y-%m-%d %H:%M")


def due(kind: str, appointment: Appointment, now: datetime, settings: Settings) -> Tuple[Optional[str], str]:
    """(the kind of the message due now, or None; why not). For CHECK_INS, the one check-in whose
    window `now` is in, if `now` is in the sending hours."""
    if kind == INVITE:
        return (INVITE, "") if appointment.starts_at > now else (None, "appointment time is in the past")
    outreach, clinic_tz = settings.clinic.outreach, ZoneInfo(settings.clinic.timezone)
    schedule = check_ins(appointment, outreach, clinic_tz)
    if now < schedule[0].opens:
        return None, f"no check-in due yet: the first ({schedule[0].days} day(s) after the visit) from " \
                     f"{_local(schedule[0].opens, clinic_tz)}"
    if now >= schedule[-1].closes:
        return None, f"no check-in due: the last one's time ended {_local(schedule[-1].closes, clinic_tz)}"
    [current] = [c for c in schedule if c.opens <= now < c.closes]
    if not in_send_hours(now, outreach, clinic_tz):
        return None, f"check-in ({current.days} day(s) after the visit) waits for the sending hours " \
                     f"({hours_text(outreach)})"
    return current.kind, ""


def run(kind: str, path: str, rate: float, now: datetime, settings: Settings, out=None,
        as_sms: Callable[[str], str] = lambda body: body) -> int:
    """`kind` is INVITE or CHECK_INS. `as_sms` turns a message into the SMS body sent:
    commands/outreach.py gives it the SMS channel's plain_text, which folds the accents outside GSM-7
    (á, í, ó, ú) as the conversation's replies are folded, so a Spanish text keeps 153 characters a
    segment (the core may not import channels)."""
    out = out or sys.stdout  # looked up when called, so that a redirected stdout is used
    if settings.twilio is None:
        raise SystemExit("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER must be set")
    rows, problems = parse_rows(path, ZoneInfo(settings.clinic.timezone))
    store, sms_state = AppointmentStore(settings.records_db_url), SmsState(settings.records_db_url)
    twilio = TwilioClient(settings.twilio)
    sent = skipped = failed = notices = 0
    not_due: List[RowProblem] = []  # check-ins only: a visit with nothing due now, not an error

    def pace() -> None:
        if rate > 0:
            time.sleep(1 / rate)

    for number, (line, appointment, written_language) in enumerate(rows, start=1):
        prefix = f"[{number}/{len(rows)}] line {line} {mask(appointment.phone)}:"
        message_kind, why_not = due(kind, appointment, now, settings)
        if message_kind is None:
            (problems if kind == INVITE else not_due).append(RowProblem(line, why_not))
            continue
        store.remember(appointment)
        if sms_state.is_opted_out(appointment.phone):
            print(f"{prefix} skipped, opted out", file=out)
            skipped += 1
            continue
        if not store.claim(appointment, message_kind):
            print(f"{prefix} skipped, already sent", file=out)
            skipped += 1
            continue
        # The first message our outreach sends to a number: the notice goes first, once per number.
        notice = as_sms(notice_for(appointment, settings))
        with_notice = store.claim_notice(appointment, message_kind, notice)
        if with_notice:
            try:
                twilio.send_blocking(appointment.phone, notice)
            except DeliveryError as exc:
                store.release_notice(appointment.phone)
                store.release(appointment, message_kind)  # neither went: the next run tries both again
                print(f"{prefix} FAILED ({exc}); will be retried by the next run", file=out)
                failed += 1
                continue
            store.mark_notice_sent(appointment.phone)
            notices += 1
            pace()
        try:
            twilio.send_blocking(appointment.phone, as_sms(message_for(message_kind, appointment, settings)))
        except DeliveryError as exc:
            store.release(appointment, message_kind)  # the next run tries again
            print(f"{prefix} FAILED ({exc}); will be retried by the next run", file=out)
            failed += 1
            continue
        store.mark_sent(appointment, message_kind)
        note = "" if row_language(written_language) else f" (language {written_language!r} not available: sent in English)"
        what = "" if kind == INVITE else f" {message_kind}"
        print(f"{prefix} sent{what}{' after the first-text notice' if with_notice else ''}{note}", file=out)
        sent += 1
        pace()
    for problem in sorted(problems, key=lambda p: p.line):
        print(f"line {problem.line}: not sent: {problem.reason}", file=out)
    for problem in not_due:
        print(f"line {problem.line}: nothing due: {problem.reason}", file=out)
    due_note = f"; {len(not_due)} with nothing due now" if kind == CHECK_INS else ""
    print(f"{kind.replace('_', '-')}: {sent} sent, {skipped} skipped, {len(problems)} rows not sent, {failed} failed{due_note}; "
          f"{notices} first-text notice(s) sent", file=out)
    return 1 if failed or problems else 0
