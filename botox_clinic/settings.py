"""All configuration, read in one place: the clinic settings file and environment variables.

Secrets (webhook key, SMTP password, Twilio token) only ever come from the environment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, Mapping, Optional

import yaml

from botox_clinic import paths


@dataclass(frozen=True)
class ClinicSettings:
    name: str
    phone: str
    emergency_number: str
    timezone: str = "UTC"
    # Conversations inactive for longer are deleted by the retention command (components/tracker_store.py).
    retention_days: float = 90

    def template_values(self) -> Dict[str, str]:
        """Values for the {clinic_name}, {clinic_phone} and {emergency_number} placeholders."""
        return {"clinic_name": self.name, "clinic_phone": self.phone, "emergency_number": self.emergency_number}


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
class Settings:
    clinic: ClinicSettings
    spacy_pipeline: str
    red_flag_rules: str
    # The clinic records database: escalations and their deliveries, SMS opt-outs and offered
    # choices, appointments and outreach (botox_clinic/records.py).
    records_db_url: str
    webhook: Optional[WebhookTarget]
    email: Optional[EmailTarget]
    sms: Optional[SmsTarget]
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

    @property
    def targets(self) -> Dict[str, object]:
        """The configured notification targets by name; deliveries are recorded per name."""
        named = {"webhook": self.webhook, "email": self.email, "sms": self.sms}
        return {name: target for name, target in named.items() if target is not None}


def load_clinic(path: str) -> ClinicSettings:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    missing = [k for k in ("clinic_name", "clinic_phone", "emergency_number") if not data.get(k)]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return ClinicSettings(str(data["clinic_name"]), str(data["clinic_phone"]), str(data["emergency_number"]),
                          str(data.get("timezone") or "UTC"), float(data.get("retention_days") or 90))


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
    return Settings(
        clinic=load_clinic(str(paths.resolve(get("CLINIC_SETTINGS_FILE", str(paths.CLINIC_SETTINGS))))),
        spacy_pipeline=str(paths.resolve(get("SPACY_PIPELINE", str(paths.SPACY_PIPELINE)))),
        red_flag_rules=str(paths.resolve(get("RED_FLAG_RULES", str(paths.RED_FLAG_RULES)))),
        # ESCALATION_DB_URL is the variable's old name, still accepted.
        records_db_url=get("RECORDS_DB_URL", get("ESCALATION_DB_URL", f"sqlite:///{paths.default_records_file()}")),
        webhook=webhook,
        email=email,
        sms=sms,
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
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
