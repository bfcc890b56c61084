"""Sending one page of an escalation to one clinic target: HTTPS webhook, email over SMTP, or SMS
via Twilio.

Every send carries the idempotency key "<escalation id>:<delivery>" ("E-...:sms", "E-...:sms#1" for
the policy's first repeat), so a receiver can drop the duplicates that at-least-once delivery implies
and still gets every repeat. Each function raises DeliveryError on failure; botox_clinic/outbox.py
decides when to retry. The texts are in the message catalogue.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage

from botox_clinic.escalations import Escalation
from botox_clinic.messages import text
from botox_clinic.settings import BACKUP, EmailTarget, SmsTarget, WebhookTarget
from botox_clinic.twilio import DeliveryError, TwilioClient

TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-Escalation-Signature"
TIMESTAMP_HEADER = "X-Escalation-Timestamp"
SMS_NOTICE_CHARS = 320


@dataclass(frozen=True)
class Page:
    """Which of the escalation policy's pages a notice is; step 0 is the first notice."""
    delivery: str  # the delivery row's name, e.g. "sms" or "sms#2"
    step: int
    role: str
    unacknowledged_minutes: int
    # A backup page sent to the on-call targets because no backup is configured.
    backup_missing: bool


def idempotency_key(escalation: Escalation, page: Page) -> str:
    return f"{escalation.id}:{page.delivery}"


def page_notice(page: Page) -> str:
    """What a later page starts with: that it is a repeat, to whom, and how long nobody has
    acknowledged; empty for the first notice."""
    if page.step == 0:
        return ""
    key = ("notification.page.backup_missing" if page.backup_missing
           else "notification.page.backup" if page.role == BACKUP else "notification.page.repeat")
    return text(key, minutes=str(page.unacknowledged_minutes))


def with_notice(page: Page, line: str) -> str:
    notice = page_notice(page)
    return f"{notice} {line}" if notice else line


def summary(escalation: Escalation) -> str:
    """One line for a pager or a phone: tier, reference, what, who, where."""
    return text("notification.summary", tier_upper=escalation.tier.upper(), reference=escalation.id,
                symptoms=", ".join(escalation.symptoms), sender_id=escalation.sender_id,
                channel=escalation.channel, created_at=escalation.created_at)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>." + body; the receiver recomputes it and compares."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send_webhook(target: WebhookTarget, escalation: Escalation, page: Page) -> None:
    body = json.dumps({"type": "escalation", **escalation.as_dict(),
                       "page": {**asdict(page), "notice": page_notice(page)}}, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(target.url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key(escalation, page),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(target.secret, timestamp, body),
    })
    _post(request)


def send_email(target: EmailTarget, escalation: Escalation, page: Page) -> None:
    msg = EmailMessage()
    msg["Subject"] = with_notice(page, text("notification.email_subject", tier_upper=escalation.tier.upper(),
                                            reference=escalation.id))
    msg["From"] = target.sender
    msg["To"] = target.recipient
    msg["Message-ID"] = f"<{idempotency_key(escalation, page).replace(':', '.')}@botox-assistant>"
    turns = "\n".join(f"  {t['speaker']}: {t['text']}" for t in escalation.recent_turns)
    msg.set_content(text("notification.email_body", summary=with_notice(page, summary(escalation)),
                         message=escalation.message, turns=turns,
                         advice=text(f"notification.advice.{escalation.tier}")))
    try:
        with smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS) as smtp:
            if target.starttls:
                smtp.starttls()
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"smtp: {exc}") from exc


def send_sms(target: SmsTarget, escalation: Escalation, page: Page) -> None:
    # The notice first: cut to length, a repeat must still read as one.
    body = with_notice(page, summary(escalation))[:SMS_NOTICE_CHARS]
    TwilioClient(target.account).send_blocking(target.to_number, body)


def _post(request: urllib.request.Request) -> None:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


SENDERS = {"webhook": send_webhook, "email": send_email, "sms": send_sms}
