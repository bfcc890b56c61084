"""All configuration, read in one place: the clinic settings file and environment variables.

Secrets (webhook key, SMTP password, Twilio token) only ever come from the environment.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import yaml

from botox_clinic import paths

# Who an escalation's page goes to: the on-call targets (ESCALATION_WEBHOOK_URL, _SMTP_HOST, _SMS_TO)
# or the backup ones (ESCALATION_BACKUP_EMAIL_TO, _SMS_TO).
ON_CALL, BACKUP = "on_call", "backup"
ROLES = (ON_CALL, BACKUP)
# The tiers the escalation policy must cover: the red-flag tiers and a patient asking for a person.
POLICY_TIERS = ("emergency", "urgent", "handoff")


@dataclass(frozen=True)
class PageStep:
    """One page of an unacknowledged escalation: who, and how long after the escalation was recorded."""
    after_minutes: float
    role: str


# Every tier's first page is the notice recorded with the escalation (botox_clinic/escalations.py).
FIRST_PAGE = PageStep(0, ON_CALL)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class OpeningHours:
    """When a member of the care team can reply to a patient who asks for a person: per weekday,
    Monday first, (start, end) in minutes after midnight, in the clinic's time zone."""
    days: Tuple[Tuple[Tuple[int, int], ...], ...]

    def is_open(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.days[local.weekday()])


@dataclass(frozen=True)
class OutreachSettings:
    """When the outreach command's check-ins go (clinic/settings.yml, outreach): days after the
    visit, in order, and the hours of the day (the clinic's time zone) in which check-ins are sent,
    as (start, end) minutes after midnight. botox_clinic/outreach.py says how a check-in is due."""
    check_in_days: Tuple[int, ...] = (1, 7, 14)
    send_hours: Tuple[Tuple[int, int], ...] = ((9 * 60, 20 * 60),)


@dataclass(frozen=True)
class ClinicSettings:
    name: str
    phone: str
    emergency_number: str
    timezone: str = "UTC"
    # Conversations inactive for longer are deleted by the retention command (components/tracker_store.py).
    retention_days: float = 90
    # Per tier, its pages in order, the first being FIRST_PAGE (clinic/settings.yml, escalation_policy).
    escalation_policy: Mapping[str, Tuple[PageStep, ...]] = field(default_factory=dict, hash=False)
    # A patient asking for a person in these hours gets a handoff request; None: the clinic's number.
    opening_hours: Optional[OpeningHours] = None
    # Tell the patient when a clinician has acknowledged their escalation (botox_clinic/handoff.py).
    tell_patient_when_seen: bool = False
    outreach: OutreachSettings = field(default_factory=OutreachSettings)
    # Optional details patients ask for (components/clinic_details.py); None: not set.
    address: Optional[str] = None
    booking_url: Optional[str] = None

    def template_values(self) -> Dict[str, str]:
        """Values for the {clinic_name}, {clinic_phone} and {emergency_number} placeholders."""
        return {"clinic_name": self.name, "clinic_phone": self.phone, "emergency_number": self.emergency_number}

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (timezone-aware) is in opening hours where the clinic is; never without hours."""
        return self.opening_hours is not None and self.opening_hours.is_open(at.astimezone(ZoneInfo(self.timezone)))

    def page_steps(self, tier: str) -> Tuple[PageStep, ...]:
        """The tier's pages, first to last; a tier the policy does not name gets its first notice only."""
        return self.escalation_policy.get(tier, (FIRST_PAGE,))


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class EmailTarget:
    host: str
    port: int
    sender: str
    recipient: str
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    starttls: bool = False


@dataclass(frozen=True)
class TwilioAccount:
    """The clinic's Twilio account: sends SMS replies and SMS escalation notices."""
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str = ""
    api_base: str = "https://api.twilio.com"

    @property
    def messages_url(self) -> str:
        return f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"


@dataclass(frozen=True)
class SmsTarget:
    account: TwilioAccount
    to_number: str


@dataclass(frozen=True)
class InboxSettings:
    """The clinician inbox (`python -m inbox`), a staff web app of its own."""
    host: str
    port: int
    # Signs the session cookies; unset, the inbox keeps a generated one in var/ (inbox/secret_key.py).
    secret_key: Optional[str] = field(repr=False)
    # Session cookies only over HTTPS (they are anyway for a request a trusted proxy says was HTTPS).
    secure_cookies: bool
    # Behind a reverse proxy: trust one hop of X-Forwarded-For/-Proto/-Host for the client's address
    # (login rate limits) and for HTTPS. Off, those headers are ignored: anyone could send them.
    behind_proxy: bool
    # Server threads; every open inbox page holds one for its live updates.
    threads: int
    # The conversations (Rasa's SQL tracker store), for the summary's unanswered questions; None when
    # the endpoints file names no SQL store.
    tracker_db_url: Optional[str]


@dataclass(frozen=True)
class Settings:
    clinic: ClinicSettings
    spacy_pipeline: str
    spacy_pipeline_es: str  # the Spanish one, for the Spanish red-flag rules
    red_flag_rules: str
    # The clinic records database: escalations and their deliveries, SMS opt-outs and offered
    # choices, appointments and outreach (botox_clinic/records.py).
    records_db_url: str
    webhook: Optional[WebhookTarget]
    email: Optional[EmailTarget]
    sms: Optional[SmsTarget]
    # The backup clinician, paged when the escalation policy says so; through the on-call email
    # server and the clinic's Twilio account.
    backup_email: Optional[EmailTarget]
    backup_sms: Optional[SmsTarget]
    twilio: Optional[TwilioAccount]
    # The public URL Twilio posts incoming SMS to; request signatures are computed over it.
    twilio_webhook_url: Optional[str]
    # Web pages allowed to open the chat widget's Socket.IO connection (their origins).
    web_chat_origins: tuple
    web_chat_jwt_secret: Optional[str]
    retry_base_seconds: float
    retry_max_seconds: float
    outbox_poll_seconds: float
    # How long a worker owns a delivery it is sending; must exceed one send's timeout with its
    # retries (botox_clinic/twilio.py: 4 attempts of up to 10 s).
    outbox_lease_seconds: float
    # How long the Rasa server waits for a custom action (the guide, "forget me") before giving up:
    # a stalled action server holds the conversation, and a red flag sent meanwhile, no longer.
    action_timeout_seconds: float
    inbox: InboxSettings

    @property
    def targets(self) -> Dict[str, object]:
        """The configured notification targets by name; deliveries are recorded per name."""
        named = {"webhook": self.webhook, "email": self.email, "sms": self.sms}
        return {name: target for name, target in named.items() if target is not None}

    @property
    def backup_targets(self) -> Dict[str, object]:
        """The backup clinician's targets by the same names (a webhook is the clinic's system, not a person)."""
        named = {"email": self.backup_email, "sms": self.backup_sms}
        return {name: target for name, target in named.items() if target is not None}

    def targets_for(self, role: str) -> Dict[str, object]:
        """Where a page to `role` goes: a backup page goes to the on-call targets when no backup is
        configured, so an unanswered escalation is still paged again rather than not at all."""
        if role == BACKUP and self.backup_targets:
            return self.backup_targets
        return self.targets


def load_clinic(path: str) -> ClinicSettings:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    missing = [k for k in ("clinic_name", "clinic_phone", "emergency_number") if not data.get(k)]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return ClinicSettings(str(data["clinic_name"]), str(data["clinic_phone"]), str(data["emergency_number"]),
                          str(data.get("timezone") or "UTC"), float(data.get("retention_days") or 90),
                          load_escalation_policy(data.get("escalation_policy"), f"{path}: escalation_policy"),
                          opening_hours=load_opening_hours(data.get("opening_hours"), f"{path}: opening_hours"),
                          tell_patient_when_seen=_flag(data.get("tell_patient_when_seen", False),
                                                       f"{path}: tell_patient_when_seen"),
                          outreach=load_outreach(data.get("outreach"), f"{path}: outreach"),
                          address=_optional_text(data.get("clinic_address"), f"{path}: clinic_address"),
                          booking_url=_booking_url(data.get("booking_url"), f"{path}: booking_url"))


def _optional_text(value: object, where: str) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected text, got {value!r}")
    return " ".join(value.split())


def _booking_url(value: object, where: str) -> Optional[str]:
    """A link patients are sent to: https only, so a typo is caught at start, not by a patient."""
    url = _optional_text(value, where)
    if url is not None and (not url.startswith("https://") or " " in url):
        raise ValueError(f"{where}: expected an https:// link, got {url!r}")
    return url


def load_escalation_policy(data: object, where: str) -> Dict[str, Tuple[PageStep, ...]]:
    """Every tier's pages, checked: a policy with a typo must stop the process, not page nobody."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: missing, or not a mapping of each tier ({', '.join(POLICY_TIERS)}) to its pages")
    unknown, missing = set(data) - set(POLICY_TIERS), set(POLICY_TIERS) - set(data)
    if unknown or missing:
        raise ValueError(f"{where}: the tiers must be exactly {', '.join(POLICY_TIERS)}"
                         + (f"; unknown: {', '.join(sorted(map(str, unknown)))}" if unknown else "")
                         + (f"; missing: {', '.join(sorted(missing))}" if missing else ""))
    return {tier: _tier_pages(data[tier], f"{where}.{tier}") for tier in POLICY_TIERS}


def _tier_pages(items: object, where: str) -> Tuple[PageStep, ...]:
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: must be a list of pages, e.g. - {{after_minutes: 0, page: on_call}}")
    pages = tuple(_page_step(item, f"{where}[{i}]") for i, item in enumerate(items))
    if pages[0] != FIRST_PAGE:
        raise ValueError(f"{where}[0]: the first page must be {{after_minutes: 0, page: on_call}}: it is the "
                         f"notice sent to the on-call targets when the escalation is recorded")
    for i in range(1, len(pages)):
        if pages[i].after_minutes <= pages[i - 1].after_minutes:
            raise ValueError(f"{where}[{i}]: after_minutes must be later than the page before it "
                             f"({pages[i].after_minutes:g} <= {pages[i - 1].after_minutes:g})")
    return pages


def _page_step(item: object, where: str) -> PageStep:
    if not isinstance(item, dict) or set(item) != {"after_minutes", "page"}:
        raise ValueError(f"{where}: must be {{after_minutes: <minutes>, page: on_call or backup}}, got {item!r}")
    minutes, role = item["after_minutes"], item["page"]
    # bool is an int to Python, and YAML reads "yes" as one.
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not math.isfinite(minutes) or minutes < 0:
        raise ValueError(f"{where}: after_minutes must be a number of minutes, 0 or more, got {minutes!r}")
    if role not in ROLES:
        raise ValueError(f"{where}: page must be one of {', '.join(ROLES)}, got {role!r}")
    return PageStep(minutes, role)


_TIME_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def load_opening_hours(data: object, where: str) -> Optional[OpeningHours]:
    """Opening hours from e.g. {monday: "09:00-17:00", wednesday: "09:00-12:00, 13:00-17:00"}: a day
    left out (or `closed`) is closed; no mapping at all is None. Checked: a typo must stop the
    process, not tell patients at night that someone will reply."""
    if data is None or data == {}:
        return None
    if not isinstance(data, dict):
        raise ValueError(f'{where}: must map weekdays to hours, e.g. monday: "09:00-17:00"')
    unknown = set(data) - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"{where}: unknown day(s) {', '.join(sorted(map(str, unknown)))}; "
                         f"the days are {', '.join(WEEKDAYS)}")
    days = tuple(_day_ranges(data.get(day), f"{where}.{day}") for day in WEEKDAYS)
    if not any(days):
        raise ValueError(f"{where}: every day is closed; leave opening_hours out instead")
    return OpeningHours(days)


def _day_ranges(value: object, where: str) -> Tuple[Tuple[int, int], ...]:
    if value is None or value == "closed":
        return ()
    if not isinstance(value, str):  # YAML reads an unquoted 9:00 as a number
        raise ValueError(f'{where}: expected a quoted "HH:MM-HH:MM" (several separated by commas) or closed, '
                         f"got {value!r}")
    ranges = []
    for part in value.split(","):
        match = _TIME_RANGE.match(part.strip())
        if not match:
            raise ValueError(f'{where}: expected "HH:MM-HH:MM" (several separated by commas) or closed, got {value!r}')
        start_hour, start_minute, end_hour, end_minute = map(int, match.groups())
        start, end = start_hour * 60 + start_minute, end_hour * 60 + end_minute
        if start_minute > 59 or end_minute > 59 or end > 24 * 60 or end <= start:
            raise ValueError(f"{where}: {part.strip()!r} is not a time range within one day (end after start, "
                             f"at most 24:00)")
        ranges.append((start, end))
    return tuple(sorted(ranges))


# A check-in is about the weeks after the injection when problems can start (the boxed warning:
# hours to weeks), not a reminder months later.
MAX_CHECK_IN_DAYS = 90


def load_outreach(data: object, where: str) -> OutreachSettings:
    """The outreach section, e.g. {check_ins: [{after_days: 1}, {after_days: 7}], send_hours: "09:00-20:00"};
    left out, or a key left out, is the default (OutreachSettings). Checked: a typo must stop the
    command, not leave a patient without the check-in the clinic meant to send."""
    if data is None:
        return OutreachSettings()
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be a mapping, e.g. {{check_ins: [{{after_days: 1}}, {{after_days: 7}}]}}")
    unknown = set(data) - {"check_ins", "send_hours"}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                         f"the keys are check_ins, send_hours")
    defaults = OutreachSettings()
    days = defaults.check_in_days if "check_ins" not in data else _check_in_days(data["check_ins"], f"{where}.check_ins")
    hours = defaults.send_hours
    if "send_hours" in data:
        hours = _day_ranges(data["send_hours"], f"{where}.send_hours")
        if not hours:
            raise ValueError(f'{where}.send_hours: check-ins need hours to be sent in, e.g. "09:00-20:00"')
    return OutreachSettings(days, hours)


def _check_in_days(items: object, where: str) -> Tuple[int, ...]:
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: must be a list of check-ins, e.g. - {{after_days: 1}} (to send none, do not run "
                         f"the check-ins command)")
    days = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"after_days"}:
            raise ValueError(f"{where}[{i}]: must be {{after_days: <whole days after the visit>}}, got {item!r}")
        value = item["after_days"]
        # bool is an int to Python, and YAML reads "yes" as one.
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHECK_IN_DAYS:
            raise ValueError(f"{where}[{i}]: after_days must be a whole number of days from 1 to "
                             f"{MAX_CHECK_IN_DAYS}, got {value!r}")
        if days and value <= days[-1]:
            raise ValueError(f"{where}[{i}]: after_days must be later than the check-in before it "
                             f"({value} <= {days[-1]})")
        days.append(value)
    return tuple(days)


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: must be true or false, got {value!r}")
    return value


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    def get(name: str, default: Optional[str] = None) -> Optional[str]:
        value = env.get(name)
        return value if value not in (None, "") else default

    def required_with(name: str, other: str) -> str:
        value = get(name)
        if value is None:
            raise ValueError(f"{name} must be set when {other} is set")
        return value

    webhook = None
    if get("ESCALATION_WEBHOOK_URL"):
        webhook = WebhookTarget(get("ESCALATION_WEBHOOK_URL"),
                                required_with("ESCALATION_WEBHOOK_SECRET", "ESCALATION_WEBHOOK_URL"))
    email = None
    if get("ESCALATION_SMTP_HOST"):
        email = EmailTarget(
            host=get("ESCALATION_SMTP_HOST"),
            port=int(get("ESCALATION_SMTP_PORT", "25")),
            sender=required_with("ESCALATION_EMAIL_FROM", "ESCALATION_SMTP_HOST"),
            recipient=required_with("ESCALATION_EMAIL_TO", "ESCALATION_SMTP_HOST"),
            username=get("ESCALATION_SMTP_USER"),
            password=get("ESCALATION_SMTP_PASSWORD"),
            starttls=get("ESCALATION_SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
        )
    twilio = None
    if get("TWILIO_ACCOUNT_SID"):
        twilio = TwilioAccount(
            account_sid=get("TWILIO_ACCOUNT_SID"),
            auth_token=required_with("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID"),
            from_number=required_with("TWILIO_FROM_NUMBER", "TWILIO_ACCOUNT_SID"),
            api_base=get("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/"),
        )
    sms = None
    if get("ESCALATION_SMS_TO"):
        if twilio is None:
            raise ValueError("TWILIO_ACCOUNT_SID must be set when ESCALATION_SMS_TO is set")
        sms = SmsTarget(twilio, get("ESCALATION_SMS_TO"))
    backup_email = None
    if get("ESCALATION_BACKUP_EMAIL_TO"):
        if email is None:
            raise ValueError("ESCALATION_SMTP_HOST must be set when ESCALATION_BACKUP_EMAIL_TO is set")
        backup_email = replace(email, recipient=get("ESCALATION_BACKUP_EMAIL_TO"))
    backup_sms = None
    if get("ESCALATION_BACKUP_SMS_TO"):
        if twilio is None:
            raise ValueError("TWILIO_ACCOUNT_SID must be set when ESCALATION_BACKUP_SMS_TO is set")
        backup_sms = SmsTarget(twilio, get("ESCALATION_BACKUP_SMS_TO"))
    if (backup_email or backup_sms) and not (webhook or email or sms):
        # Without an on-call target an escalation is recorded with no page at all (the patient is told to
        # call the clinic), so a backup alone would never be paged.
        raise ValueError("a backup target needs an on-call target: set ESCALATION_WEBHOOK_URL, "
                         "ESCALATION_SMTP_HOST or ESCALATION_SMS_TO")
    return Settings(
        clinic=load_clinic(str(paths.resolve(get("CLINIC_SETTINGS_FILE", str(paths.CLINIC_SETTINGS))))),
        spacy_pipeline=str(paths.resolve(get("SPACY_PIPELINE", str(paths.SPACY_PIPELINE)))),
        spacy_pipeline_es=str(paths.resolve(get("SPACY_PIPELINE_ES", str(paths.SPACY_PIPELINE_ES)))),
        red_flag_rules=str(paths.resolve(get("RED_FLAG_RULES", str(paths.RED_FLAG_RULES)))),
        # ESCALATION_DB_URL is the variable's old name, still accepted.
        records_db_url=get("RECORDS_DB_URL", get("ESCALATION_DB_URL", f"sqlite:///{paths.default_records_file()}")),
        webhook=webhook,
        email=email,
        sms=sms,
        backup_email=backup_email,
        backup_sms=backup_sms,
        twilio=twilio,
        twilio_webhook_url=get("TWILIO_WEBHOOK_URL"),
        web_chat_origins=tuple(o.strip().rstrip("/") for o in get(
            "WEB_CHAT_ORIGINS", "http://localhost:8080,http://127.0.0.1:8080").split(",") if o.strip()),
        web_chat_jwt_secret=get("WEB_CHAT_JWT_SECRET"),
        retry_base_seconds=float(get("ESCALATION_RETRY_BASE_SECONDS", "2")),
        retry_max_seconds=float(get("ESCALATION_RETRY_MAX_SECONDS", "300")),
        outbox_poll_seconds=float(get("ESCALATION_POLL_SECONDS", "1")),
        outbox_lease_seconds=float(get("ESCALATION_LEASE_SECONDS", "60")),
        action_timeout_seconds=float(get("ACTION_TIMEOUT_SECONDS", "3")),
        inbox=InboxSettings(
            host=get("CLINIC_INBOX_HOST", "127.0.0.1"),
            port=int(get("CLINIC_INBOX_PORT", "8081")),
            secret_key=get("CLINIC_INBOX_SECRET_KEY"),
            secure_cookies=get("CLINIC_INBOX_SECURE_COOKIES", "0").lower() in ("1", "true", "yes"),
            behind_proxy=get("CLINIC_INBOX_BEHIND_PROXY", "0").lower() in ("1", "true", "yes"),
            threads=int(get("CLINIC_INBOX_THREADS", "16")),
            tracker_db_url=get("CLINIC_INBOX_TRACKER_DB_URL") or tracker_db_url_from_endpoints(
                paths.resolve(get("ENDPOINTS", "endpoints.yml")), env),
        ),
    )


def tracker_db_url_from_endpoints(path: Path, env: Mapping[str, str]) -> Optional[str]:
    """The SQLAlchemy URL of the SQL tracker store an endpoints file configures (Rasa's keys, its
    ${VAR}s from `env`), a relative SQLite file taken from the project root as `make run` runs Rasa."""
    if not path.exists():  # e.g. an image without the Rasa server's files: every process reads settings
        return None
    with open(path, encoding="utf-8") as f:
        store = (yaml.safe_load(f) or {}).get("tracker_store") or {}
    if "dialect" not in store and "sql" not in str(store.get("type", "")).lower():
        return None
    value = {key: re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), str(raw))
             for key, raw in store.items() if raw is not None}
    if "://" in value.get("url", ""):
        return value["url"]
    dialect = value.get("dialect", "sqlite")
    if dialect == "sqlite":
        return f"sqlite:///{paths.resolve(value.get('db', 'rasa.db'))}"
    return sa.engine.URL.create(dialect, value.get("username"), value.get("password"), value.get("url"),
                                int(value["port"]) if value.get("port") else None,
                                value.get("db")).render_as_string(hide_password=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
