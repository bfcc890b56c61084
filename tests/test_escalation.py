"""Escalation: recorded before the reply, delivered at least once, through failures and restarts."""
import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from receivers import SmtpReceiver, TwilioApiStandIn, WebhookReceiver

from actions.escalation import UNRECOGNISED, ActionEscalateRedFlag
from botox_clinic import outbox
from botox_clinic.escalations import DELIVERED, EscalationStore
from botox_clinic.red_flags import ASSESSMENT_KEY

SECRET = "test-webhook-secret"


def _wait_for(condition, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _assessed(detector, text):
    """The parse data the NLU pipeline's detector gives the escalation."""
    return {ASSESSMENT_KEY: detector.assess(text).as_parse_data()}


def test_escalation_is_recorded_before_the_action_returns(settings, escalations, detector, make_tracker, dispatcher,
                                                          domain, monkeypatch):
    monkeypatch.setenv("ESCALATION_WEBHOOK_URL", "http://127.0.0.1:9/unused")
    monkeypatch.setenv("ESCALATION_WEBHOOK_SECRET", SECRET)
    settings.cache_clear()
    text = "i can't swallow since my botox"
    tracker = make_tracker(text, intent="report_red_flag", parse=_assessed(detector, text),
                           turns=[("patient", "what are side effects"), ("assistant", "Most people...")])
    events = asyncio.run(ActionEscalateRedFlag().run(dispatcher, tracker, domain))
    slots = {e["name"]: e["value"] for e in events}
    assert slots["escalation_tier"] == "emergency" and slots["escalation_recorded"] is True
    assert "walkthrough_step" in slots and slots["walkthrough_step"] is None  # the guide ends
    stored = escalations().get(slots["escalation_reference"])
    assert stored.tier == "emergency" and stored.symptoms == ["difficulty swallowing"]
    assert stored.channel == "rest" and stored.sender_id == "patient-1"
    assert [t["speaker"] for t in stored.recent_turns] == ["patient", "assistant", "patient"]
    [(_, deliveries)] = escalations().list()
    assert [(d.target, d.state) for d in deliveries] == [("webhook", "pending")]


def test_classifier_only_report_escalates_as_urgent(settings, escalations, make_tracker, dispatcher, domain):
    events = asyncio.run(ActionEscalateRedFlag().run(dispatcher, make_tracker("something feels very wrong"), domain))
    slots = {e["name"]: e["value"] for e in events}
    assert slots["escalation_tier"] == "urgent"
    assert escalations().get(slots["escalation_reference"]).symptoms == [UNRECOGNISED]


def test_unrecordable_escalation_still_instructs_without_claiming_notice(settings, detector, make_tracker, dispatcher,
                                                                              domain, monkeypatch):
    monkeypatch.setenv("RECORDS_DB_URL", "sqlite:////proc/forbidden/records.db")
    settings.cache_clear()
    text = "i can't breathe"
    events = asyncio.run(ActionEscalateRedFlag().run(dispatcher, make_tracker(text, parse=_assessed(detector, text)),
                                                     domain))
    slots = {e["name"]: e["value"] for e in events}
    assert slots == {"escalation_tier": "emergency", "escalation_recorded": False, "escalation_reference": None,
                     "walkthrough_step": None}


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
        assert _wait_for(lambda: outbox.deliver_due(store, cfg) >= 0 and
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
    outbox.print_list(store, undelivered_only=True)
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
        assert _wait_for(lambda: receiver.requests)  # the first send is in flight...
        first.send_signal(signal.SIGKILL)  # ...when the worker dies
        first.wait()
        second = _worker(env)
        try:
            assert _wait_for(lambda: all(d.state == DELIVERED for _, ds in store.list() for d in ds), timeout=30)
        finally:
            second.terminate()
            second.wait()
        assert list(receiver.accepted) == [f"{escalation.id}:webhook"]
    finally:
        receiver.close()
