"""Escalation: recorded before the reply, delivered at least once, through failures and restarts."""
import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, escalate, eventually
from receivers import SmtpReceiver, TwilioApiStandIn, WebhookReceiver

from botox_clinic import outbox
from botox_clinic.escalations import DELIVERED, EscalationStore
from botox_clinic.red_flags import ASSESSMENT_KEY
from components.escalation import UNRECOGNISED

SECRET = "test-webhook-secret"


def test_escalation_is_recorded_before_the_reply_and_the_clinic_notified(settings, escalations, detector,
                                                                        monkeypatch):
    monkeypatch.setenv("ESCALATION_WEBHOOK_URL", "http://127.0.0.1:9/unused")
    monkeypatch.setenv("ESCALATION_WEBHOOK_SECRET", SECRET)
    settings.cache_clear()
    slots = escalate("i can't swallow since my botox", detector,
                     turns=[("patient", "what are side effects"), ("assistant", "Most people...")])
    assert slots["escalation_tier"] == "emergency" and slots["escalation_recorded"] is True
    assert slots["escalation_notified"] is True  # a target exists: the reply may say the clinic knows
    assert "walkthrough_step" in slots and slots["walkthrough_step"] is None  # the guide ends
    stored = escalations().get(slots["escalation_reference"])
    assert stored.tier == "emergency" and stored.symptoms == ["difficulty swallowing"]
    assert stored.channel == "rest" and stored.sender_id == "patient-1"
    assert [t["speaker"] for t in stored.recent_turns] == ["patient", "assistant", "patient"]
    [(_, deliveries)] = escalations().list()
    assert [(d.target, d.state) for d in deliveries] == [("webhook", "pending")]


def test_without_a_target_the_escalation_is_recorded_but_nobody_is_said_to_be_notified(settings, escalations,
                                                                                       detector):
    slots = escalate("my eyelid is drooping since this morning", detector)
    assert slots["escalation_recorded"] is True and slots["escalation_notified"] is False
    [(stored, deliveries)] = escalations().list()
    assert stored.id == slots["escalation_reference"] and deliveries == []


def test_classifier_only_report_escalates_as_urgent(settings, escalations):
    slots = escalate("something feels very wrong")
    assert slots["escalation_tier"] == "urgent"
    assert escalations().get(slots["escalation_reference"]).symptoms == [UNRECOGNISED]


def test_a_yes_to_is_this_happening_now_escalates_the_symptom_asked_about(settings, escalations):
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from components.escalation import EscalateRedFlag

    asked = {"text": "is a droopy eyelid normal", "intent": {"name": "ask_side_effects", "confidence": 1.0},
             "entities": [], ASSESSMENT_KEY: {"action": "ask", "tier": None, "possible_tier": "urgent",
                                              "possible_labels": ["drooping eyelid or eyebrow"]}}
    yes = {"text": "yes", "intent": {"name": "affirm", "confidence": 1.0}, "entities": []}
    tracker = DialogueStateTracker.from_events("patient-2", [
        UserUttered(asked["text"], asked["intent"], [], asked), ActionExecuted("utter_ask_red_flag_now"),
        UserUttered("yes", yes["intent"], [], yes)])
    events = asyncio.run(EscalateRedFlag().run(CollectingOutputChannel(), None, tracker, None))
    slots = {event.key: event.value for event in events}
    assert slots["escalation_tier"] == "urgent"
    assert escalations().get(slots["escalation_reference"]).symptoms == [
        "drooping eyelid or eyebrow (the patient said it is happening now)"]


def test_unrecordable_escalation_still_instructs_without_claiming_notice(settings, detector, monkeypatch):
    monkeypatch.setenv("RECORDS_DB_URL", "sqlite:////proc/forbidden/records.db")
    settings.cache_clear()
    slots = escalate("i can't breathe", detector)
    assert slots == {"escalation_tier": "emergency", "escalation_recorded": False, "escalation_notified": False,
                     "escalation_reference": None, "walkthrough_step": None}


def test_a_stalled_records_database_delays_the_reply_at_most_the_timeout_and_the_record_is_kept_once(
        settings, escalations, detector, monkeypatch):
    from botox_clinic.escalations import EscalationStore
    from components import escalation

    release = threading.Event()
    record = EscalationStore.record

    def stalled(self, **kwargs):
        release.wait(10)  # as a locked or unreachable database holds a write
        return record(self, **kwargs)

    monkeypatch.setattr(EscalationStore, "record", stalled)
    started = time.monotonic()
    slots = escalate("i can't breathe", detector)
    assert time.monotonic() - started < escalation.RECORD_TIMEOUT_SECONDS + 0.5
    assert slots["escalation_tier"] == "emergency" and slots["escalation_recorded"] is False
    release.set()
    assert eventually(lambda: len(escalations().list()) == 1, timeout=5)
    time.sleep(0.3)
    assert len(escalations().list()) == 1


def _record(store, targets=("webhook",)):
    return store.record(channel="rest", sender_id="p1", tier="emergency", symptoms=["difficulty breathing"],
                        message="i can't breathe", recent_turns=[], targets=targets)


def _configure(monkeypatch, settings, **env):
    monkeypatch.setenv("ESCALATION_RETRY_BASE_SECONDS", "0.05")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    return settings()


def test_webhook_refusing_then_accepting_gets_each_escalation_exactly_once(settings, monkeypatch):
    receiver = WebhookReceiver(refuse=3)
    try:
        cfg = _configure(monkeypatch, settings, ESCALATION_WEBHOOK_URL=receiver.url + "/hook",
                         ESCALATION_WEBHOOK_SECRET=SECRET)
        store = EscalationStore(cfg.records_db_url)
        ids = {_record(store).id for _ in range(2)}
        assert eventually(lambda: outbox.deliver_due(store, cfg) >= 0 and
                         all(d.state == DELIVERED for _, ds in store.list() for d in ds))
        assert set(k.split(":")[0] for k in receiver.accepted) == ids  # each id once, after refusals
        headers, body = next(iter(receiver.accepted.values()))
        expected = hmac.new(SECRET.encode(), headers["X-Escalation-Timestamp"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        assert headers["X-Escalation-Signature"] == f"sha256={expected}"
        assert json.loads(body)["tier"] == "emergency"
        assert len(receiver.requests) == 3 + 2
        assert all(d.attempts >= 1 for _, ds in store.list() for d in ds)
    finally:
        receiver.close()


def test_undelivered_escalations_are_listed(settings, monkeypatch, capsys):
    cfg = _configure(monkeypatch, settings, ESCALATION_WEBHOOK_URL="http://127.0.0.1:9/closed",
                     ESCALATION_WEBHOOK_SECRET=SECRET)
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store)
    outbox.deliver_due(store, cfg)
    outbox.print_list(store, cfg, undelivered_only=True)
    line = capsys.readouterr().out
    assert escalation.id in line and "webhook: pending, 1 failed attempt(s)" in line


def test_email_reaches_a_real_smtp_server(settings, monkeypatch):
    smtp = SmtpReceiver()
    try:
        cfg = _configure(monkeypatch, settings, ESCALATION_SMTP_HOST="127.0.0.1", ESCALATION_SMTP_PORT=str(smtp.port),
                         ESCALATION_EMAIL_FROM="assistant@clinic.test", ESCALATION_EMAIL_TO="oncall@clinic.test")
        store = EscalationStore(cfg.records_db_url)
        escalation = _record(store, targets=("email",))
        assert outbox.deliver_due(store, cfg) == 1
        [envelope] = smtp.messages
        content = envelope.content.decode()
        assert envelope.rcpt_tos == ["oncall@clinic.test"]
        assert f"[EMERGENCY] Botox red flag {escalation.id}" in content and "i can't breathe" in content
    finally:
        smtp.close()


def test_sms_goes_through_the_twilio_messages_api(settings, monkeypatch):
    twilio = TwilioApiStandIn("AC" + "1" * 32, "tok")
    try:
        cfg = _configure(monkeypatch, settings, ESCALATION_SMS_TO="+15550100001", TWILIO_ACCOUNT_SID=twilio.account_sid,
                         TWILIO_AUTH_TOKEN="tok", TWILIO_FROM_NUMBER="+15550100002", TWILIO_API_BASE=twilio.url)
        store = EscalationStore(cfg.records_db_url)
        escalation = _record(store, targets=("sms",))
        assert outbox.deliver_due(store, cfg) == 1
        [message] = twilio.messages
        assert message["To"] == "+15550100001" and escalation.id in message["Body"] and "p1" in message["Body"]
    finally:
        twilio.close()


def _worker(env):
    return subprocess.Popen([sys.executable, "-m", "commands.outbox", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.live
def test_worker_killed_mid_delivery_then_restarted_delivers(settings, monkeypatch):
    """Recorded by the action server, worker killed while sending: nothing is lost after a restart."""
    receiver = WebhookReceiver(stall_first_seconds=4)
    try:
        cfg = _configure(monkeypatch, settings, ESCALATION_WEBHOOK_URL=receiver.url, ESCALATION_WEBHOOK_SECRET=SECRET,
                         ESCALATION_LEASE_SECONDS="2", ESCALATION_POLL_SECONDS="0.2")
        store = EscalationStore(cfg.records_db_url)
        escalation = _record(store)  # no worker running: recorded, not yet delivered
        env = dict(os.environ)
        first = _worker(env)
        assert eventually(lambda: receiver.requests)  # the first send is in flight...
        first.send_signal(signal.SIGKILL)  # ...when the worker dies
        first.wait()
        second = _worker(env)
        try:
            assert eventually(lambda: all(d.state == DELIVERED for _, ds in store.list() for d in ds), timeout=30)
        finally:
            second.terminate()
            second.wait()
        assert list(receiver.accepted) == [f"{escalation.id}:webhook"]
    finally:
        receiver.close()
