"""Sending one escalation to one clinic target: HTTPS webhook, email over SMTP, or SMS via Twilio.

Every send carries the idempotency key "<escalation id>:<target>", so a receiver can drop the
repeats that at-least-once delivery implies. Each function raises DeliveryError on failure;
botox_clinic/outbox.py decides when to retry. The texts are in the message catalogue.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

from botox_clinic.escalations import Escalation
from botox_clinic.messages import text
from botox_clinic.settings import EmailTarget, SmsTarget, WebhookTarget
from botox_clinic.twilio import DeliveryError, TwilioClient

TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-Escalation-Signature"
TIMESTAMP_HEADER = "X-Escalation-Timestamp"
SMS_NOTICE_CHARS = 320


def idempotency_key(escalation: Escalation, target: str) -> str:
    return f"{escalation.id}:{target}"


def summary(escalation: Escalation) -> str:
    """One line for a pager or a phone: tier, reference, what, who, where."""
    return text("notification.summary", tier_upper=escalation.tier.upper(), reference=escalation.id,
                symptoms=", ".join(escalation.symptoms), sender_id=escalation.sender_id,
                channel=escalation.channel, created_at=escalation.created_at)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>." + body; the receiver recomputes it and compares."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send_webhook(target: WebhookTarget, escalation: Escalation) -> None:
    body = json.dumps({"type": "escalation", **escalation.as_dict()}, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(target.url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key(escalation, "webhook"),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(target.secret, timestamp, body),
    })
    _post(request)


def send_email(target: EmailTarget, escalation: Escalation) -> None:
    msg = EmailMessage()
    msg["Subject"] = text("notification.email_subject", tier_upper=escalation.tier.upper(), reference=escalation.id)
    msg["From"] = target.sender
    msg["To"] = target.recipient
    msg["Message-ID"] = f"<{idempotency_key(escalation, 'email').replace(':', '.')}@botox-assistant>"
    turns = "\n".join(f"  {t['speaker']}: {t['text']}" for t in escalation.recent_turns)
    msg.set_content(text("notification.email_body", summary=summary(escalation), message=escalation.message,
                         turns=turns, advice=text(f"notification.advice.{escalation.tier}")))
    try:
        with smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS) as smtp:
            if target.starttls:
                smtp.starttls()
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"smtp: {exc}") from exc


def send_sms(target: SmsTarget, escalation: Escalation) -> None:
    TwilioClient(target.account).send_blocking(target.to_number, summary(escalation)[:SMS_NOTICE_CHARS])


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
