"""The escalation policy (clinic/settings.yml, escalation_policy): an escalation nobody acknowledges is
paged again and the backup paged on the tier's schedule, each page exactly once, through the real
senders to loopback receivers; nothing more once a clinician acknowledges; a restarted worker
neither repeats nor skips a step. Time comes from a fake clock: no test waits for the schedule."""
import email
import email.policy
import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT
from receivers import SmtpReceiver, TwilioApiStandIn, WebhookReceiver

from botox_clinic import outbox, paths, records
from botox_clinic.escalations import CANCELLED, DELIVERED, PENDING, EscalationStore
from botox_clinic.records import iso_time
from botox_clinic.settings import BACKUP, ON_CALL, PageStep, load_clinic, load_settings

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z: a whole second, as the records keep times
ON_CALL_PHONE, BACKUP_PHONE = "+15550100001", "+15550100002"
SECRET = "test-webhook-secret"


class FakeClock:
    """time.time for the worker, at whatever moment a test sets."""

    def __init__(self):
        self.now = START

    def __call__(self) -> float:
        return self.now

    def set(self, minutes: float) -> None:
        self.now = START + minutes * 60


@pytest.fixture
def configure(settings, monkeypatch):
    """Settings with these environment variables (and fast retries), as the worker reads them."""
    def configured(**env):
        monkeypatch.setenv("ESCALATION_RETRY_BASE_SECONDS", "0.05")
        for name in ("ESCALATION_BACKUP_SMS_TO", "ESCALATION_BACKUP_EMAIL_TO"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings.cache_clear()
        return settings()
    return configured


@pytest.fixture
def twilio():
    stand_in = TwilioApiStandIn("AC" + "1" * 32, "tok")
    yield stand_in
    stand_in.close()


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _sms_env(twilio, backup=True) -> dict:
    env = dict(ESCALATION_SMS_TO=ON_CALL_PHONE, TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_AUTH_TOKEN="tok",
               TWILIO_FROM_NUMBER="+15550109999", TWILIO_API_BASE=twilio.url)
    return {**env, "ESCALATION_BACKUP_SMS_TO": BACKUP_PHONE} if backup else env


def _webhook_env(receiver) -> dict:
    return dict(ESCALATION_WEBHOOK_URL=receiver.url + "/hook", ESCALATION_WEBHOOK_SECRET=SECRET)


def _record(store, cfg, tier="emergency"):
    """An escalation recorded at START with its first page to the on-call targets, as the Rasa
    server records it."""
    return store.record(channel="twilio", sender_id="+15550100123", tier=tier, symptoms=["difficulty breathing"],
                        message="i can't breathe", recent_turns=[], targets=list(cfg.targets), now=START)


def _pass_at(minutes, store, cfg, clock) -> None:
    clock.set(minutes)
    outbox.run_pass(store, cfg, clock)


def _acknowledge(cfg, escalation, minutes, action="acknowledged"):
    """As the staff inbox records it: a row of the escalation's audit log."""
    with records.engine(cfg.records_db_url).begin() as conn:
        conn.execute(records.escalation_events.insert().values(
            escalation_id=escalation.id, at=iso_time(START + minutes * 60), actor="dr.lee", action=action,
            detail="{}"))


def _restarted(store, settings):
    """The worker's state after a restart: settings read again, a new engine and store."""
    store.dispose()
    records.engine.cache_clear()
    settings.cache_clear()
    cfg = settings()
    return EscalationStore(cfg.records_db_url), cfg


def _paged(store, escalation):
    return [(e.at, e.actor, e.detail["step"], e.detail["role"], e.detail["targets"])
            for e in store.events(escalation.id) if e.action == "paged"]


def test_an_unacknowledged_emergency_is_paged_again_at_5_minutes_and_the_backup_at_10(configure, twilio):
    cfg, clock = configure(**_sms_env(twilio)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    _pass_at(0, store, cfg, clock)
    [first] = twilio.messages
    assert first["To"] == ON_CALL_PHONE and first["Body"].startswith(f"EMERGENCY Botox red flag {escalation.id}")
    for minutes in (1, 4 + 59 / 60):
        _pass_at(minutes, store, cfg, clock)
    assert len(twilio.messages) == 1
    _pass_at(5, store, cfg, clock)
    _pass_at(5, store, cfg, clock)
    _pass_at(9 + 59 / 60, store, cfg, clock)
    [_, repeat] = twilio.messages
    assert repeat["To"] == ON_CALL_PHONE
    assert repeat["Body"].startswith(f"REPEAT PAGE, unacknowledged for 5 min: EMERGENCY Botox red flag {escalation.id}")
    for minutes in (10, 11, 60, 600):
        _pass_at(minutes, store, cfg, clock)
    [_, _, backup] = twilio.messages
    assert backup["To"] == BACKUP_PHONE
    assert backup["Body"].startswith(f"BACKUP PAGE, unacknowledged by on-call for 10 min: EMERGENCY Botox red flag "
                                     f"{escalation.id}")
    assert _paged(store, escalation) == [(iso_time(START), "system", 0, ON_CALL, ["sms"]),
                                         (iso_time(START + 300), "system", 1, ON_CALL, ["sms"]),
                                         (iso_time(START + 600), "system", 2, BACKUP, ["sms"])]


@pytest.mark.parametrize("tier, expected", [
    ("emergency", [(0, ON_CALL_PHONE), (5, ON_CALL_PHONE), (10, BACKUP_PHONE)]),
    ("urgent", [(0, ON_CALL_PHONE), (30, ON_CALL_PHONE), (60, BACKUP_PHONE)]),
    ("handoff", [(0, ON_CALL_PHONE), (30, BACKUP_PHONE)]),
])
def test_each_tier_is_paged_on_its_own_schedule_each_page_once(configure, twilio, tier, expected):
    cfg, clock = configure(**_sms_env(twilio)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    _record(store, cfg, tier)
    arrived = []
    for half_minutes in range(0, 2 * 180):  # a pass every 30 s for three hours
        _pass_at(half_minutes / 2, store, cfg, clock)
        arrived += [(half_minutes / 2, m["To"]) for m in twilio.messages[len(arrived):]]
    assert arrived == expected


def test_without_a_backup_the_on_call_is_paged_again_and_told_so(configure, webhook):
    cfg, clock = configure(**_webhook_env(webhook)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    for minutes in (0, 5, 10, 20):
        _pass_at(minutes, store, cfg, clock)
    assert list(webhook.accepted) == [f"{escalation.id}:webhook", f"{escalation.id}:webhook#1",
                                      f"{escalation.id}:webhook#2"]
    pages = [json.loads(body)["page"] for _, body in webhook.accepted.values()]
    assert [(p["step"], p["role"], p["unacknowledged_minutes"]) for p in pages] == [
        (0, ON_CALL, 0), (1, ON_CALL, 5), (2, BACKUP, 10)]
    assert pages[0]["notice"] == "" and pages[1]["notice"] == "REPEAT PAGE, unacknowledged for 5 min:"
    assert "backup not configured, paging on-call again" in pages[2]["notice"]
    [backup_paged] = [e for e in store.events(escalation.id) if e.detail.get("step") == 2]
    assert backup_paged.detail == {"step": 2, "role": BACKUP, "targets": ["webhook"],
                                   "note": "backup not configured, paging on-call again"}


def test_the_backup_is_emailed_through_the_on_call_mail_server(configure):
    smtp = SmtpReceiver()
    try:
        cfg, clock = configure(ESCALATION_SMTP_HOST="127.0.0.1", ESCALATION_SMTP_PORT=str(smtp.port),
                               ESCALATION_EMAIL_FROM="assistant@clinic.test", ESCALATION_EMAIL_TO="oncall@clinic.test",
                               ESCALATION_BACKUP_EMAIL_TO="backup@clinic.test"), FakeClock()
        store = EscalationStore(cfg.records_db_url)
        escalation = _record(store, cfg, "urgent")
        for minutes in (0, 30, 60):
            _pass_at(minutes, store, cfg, clock)
        assert [m.rcpt_tos for m in smtp.messages] == [["oncall@clinic.test"]] * 2 + [["backup@clinic.test"]]
        backup = email.message_from_bytes(smtp.messages[2].content, policy=email.policy.default)
        assert backup["Subject"] == f"BACKUP PAGE, unacknowledged by on-call for 60 min: [URGENT] Botox red flag " \
                                    f"{escalation.id}"
        assert backup["Message-ID"] == f"<{escalation.id}.email#2@botox-assistant>"
        assert backup.get_content().startswith("BACKUP PAGE, unacknowledged by on-call for 60 min: URGENT")
    finally:
        smtp.close()


@pytest.mark.parametrize("action", ["acknowledged", "resolved"])
def test_an_acknowledged_escalation_is_paged_no_more(configure, twilio, action):
    cfg, clock = configure(**_sms_env(twilio)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    _pass_at(0, store, cfg, clock)
    _acknowledge(cfg, escalation, 3, action)
    for minutes in (5, 10, 60):
        _pass_at(minutes, store, cfg, clock)
    assert store.acknowledged(escalation.id)
    assert len(twilio.messages) == 1
    assert [d.target for _, ds in store.list() for d in ds] == ["sms"]
    assert [step for _, _, step, _, _ in _paged(store, escalation)] == [0]


def test_a_repeat_still_retrying_when_acknowledged_is_not_sent(configure, webhook):
    cfg, clock = configure(**_webhook_env(webhook)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    _pass_at(0, store, cfg, clock)
    webhook.refuse = len(webhook.requests) + 1  # the repeat's first attempt fails
    _pass_at(5, store, cfg, clock)
    _acknowledge(cfg, escalation, 5.5)
    for minutes in (6, 10, 60):
        _pass_at(minutes, store, cfg, clock)
    assert len(webhook.requests) == 2 and list(webhook.accepted) == [f"{escalation.id}:webhook"]
    [(_, deliveries)] = store.list()
    assert [(d.target, d.state) for d in deliveries] == [("webhook", DELIVERED), ("webhook#1", CANCELLED)]
    assert store.list(undelivered_only=True) == []


def test_a_failed_repeat_page_is_retried_after_its_backoff(configure, webhook):
    cfg, clock = configure(**_webhook_env(webhook)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    _pass_at(0, store, cfg, clock)
    webhook.refuse = len(webhook.requests) + 2  # the repeat's first two attempts fail
    _pass_at(5, store, cfg, clock)
    _pass_at(5, store, cfg, clock)  # the backoff has not passed on the worker's clock
    assert len(webhook.requests) == 2
    for seconds in (1, 2, 3):
        _pass_at(5 + seconds / 60, store, cfg, clock)
    assert len(webhook.requests) == 4
    assert list(webhook.accepted) == [f"{escalation.id}:webhook", f"{escalation.id}:webhook#1"]
    [(_, deliveries)] = store.list()
    assert [(d.target, d.state, d.attempts) for d in deliveries] == [("webhook", DELIVERED, 1),
                                                                    ("webhook#1", DELIVERED, 3)]


def test_a_worker_restarted_after_missing_two_steps_sends_each_once_in_order(configure, settings, twilio):
    cfg, clock = configure(**_sms_env(twilio)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    _pass_at(0, store, cfg, clock)
    store, cfg = _restarted(store, settings)  # down from 0:30 to 12 minutes: both later steps missed
    for minutes in (12, 12.5, 30):
        _pass_at(minutes, store, cfg, clock)
    assert [m["To"] for m in twilio.messages] == [ON_CALL_PHONE, ON_CALL_PHONE, BACKUP_PHONE]
    assert twilio.messages[1]["Body"].startswith("REPEAT PAGE, unacknowledged for 12 min")
    assert [step for _, _, step, _, _ in _paged(store, escalation)] == [0, 1, 2]


def test_a_worker_stopped_between_issuing_and_sending_a_page_sends_it_once_after_a_restart(configure, settings,
                                                                                            twilio):
    cfg, clock = configure(**_sms_env(twilio)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    _pass_at(0, store, cfg, clock)
    clock.set(5)
    assert outbox.issue_due_pages(store, cfg, clock()) == 1  # ...and the worker stops before sending it
    store, cfg = _restarted(store, settings)
    for minutes in (5.5, 6, 9):
        _pass_at(minutes, store, cfg, clock)
    store, cfg = _restarted(store, settings)
    for minutes in (10, 11):
        _pass_at(minutes, store, cfg, clock)
    assert [m["To"] for m in twilio.messages] == [ON_CALL_PHONE, ON_CALL_PHONE, BACKUP_PHONE]
    assert [step for _, _, step, _, _ in _paged(store, escalation)] == [0, 1, 2]


PASS_IN_A_NEW_PROCESS = """
import sys
from botox_clinic import outbox
from botox_clinic.escalations import EscalationStore
from botox_clinic.settings import get_settings
settings = get_settings()
outbox.run_pass(EscalationStore(settings.records_db_url), settings, clock=lambda: float(sys.argv[1]))
"""


@pytest.mark.live
def test_each_pass_in_a_process_of_its_own_pages_each_step_once(configure, twilio):
    cfg = configure(**_sms_env(twilio))
    _record(EscalationStore(cfg.records_db_url), cfg)
    for minutes in (0, 5, 5, 7, 10, 10, 30):
        subprocess.run([sys.executable, "-c", PASS_IN_A_NEW_PROCESS, str(START + minutes * 60)], cwd=ROOT,
                       env=dict(os.environ), check=True)
    assert [m["To"] for m in twilio.messages] == [ON_CALL_PHONE, ON_CALL_PHONE, BACKUP_PHONE]


def test_the_list_shows_each_escalations_policy_state(configure, twilio, capsys):
    cfg, clock = configure(**_sms_env(twilio)), FakeClock()
    store = EscalationStore(cfg.records_db_url)
    escalation = _record(store, cfg)
    _pass_at(5, store, cfg, clock)
    clock.set(6)
    outbox.print_list(store, cfg, undelivered_only=False, clock=clock)
    shown = capsys.readouterr().out
    assert "[sms: delivered after 1 attempt(s), sms#1: delivered after 1 attempt(s)]" in shown
    assert (f"policy: paged on_call at 0 min, on_call at 5 min; next backup at 10 min ({iso_time(START + 600)}, "
            f"in 4 min)") in shown
    clock.set(13)  # the worker stopped before the backup page
    outbox.print_list(store, cfg, undelivered_only=False, clock=clock)
    assert "overdue by 3 min: is the worker running?" in capsys.readouterr().out
    _acknowledge(cfg, escalation, 13)
    outbox.print_list(store, cfg, undelivered_only=False, clock=clock)
    assert "policy: paged on_call at 0 min, on_call at 5 min; acknowledged, no more pages" in capsys.readouterr().out


def test_escalations_recorded_before_the_policy_are_not_paged_again_when_it_is_deployed(configure, twilio, capsys):
    cfg, clock = configure(**_sms_env(twilio)), FakeClock()
    with records.engine(cfg.records_db_url).begin() as conn:  # as the store wrote them: no audit log
        conn.execute(records.escalations.insert().values(
            id="E-OLD22222", created_at=iso_time(START), channel="rest", sender_id="p1", tier="emergency",
            symptoms="[]", message="", recent_turns="[]"))
        conn.execute(records.escalation_deliveries.insert().values(
            escalation_id="E-OLD22222", target="sms", state=DELIVERED, attempts=1, next_attempt_at=START))
    store = EscalationStore(cfg.records_db_url)
    for minutes in (5, 10, 60):
        _pass_at(minutes, store, cfg, clock)
    assert twilio.messages == [] and [d.target for _, ds in store.list() for d in ds] == ["sms"]
    outbox.print_list(store, cfg, undelivered_only=False, clock=clock)
    assert "policy: not paged by it (recorded before the escalation policy)" in capsys.readouterr().out


def test_the_clinics_policy_is_read_as_written():
    policy = load_clinic(str(paths.CLINIC_SETTINGS)).escalation_policy
    assert policy == {
        "emergency": (PageStep(0, ON_CALL), PageStep(5, ON_CALL), PageStep(10, BACKUP)),
        "urgent": (PageStep(0, ON_CALL), PageStep(30, ON_CALL), PageStep(60, BACKUP)),
        "handoff": (PageStep(0, ON_CALL), PageStep(30, BACKUP)),
    }


def _steps(*pairs):
    return [{"after_minutes": minutes, "page": role} for minutes, role in pairs]


GOOD = {"emergency": _steps((0, "on_call"), (5, "on_call"), (10, "backup")),
        "urgent": _steps((0, "on_call"), (30, "on_call"), (60, "backup")),
        "handoff": _steps((0, "on_call"), (30, "backup"))}


@pytest.mark.parametrize("policy, error", [
    (None, "escalation_policy: missing, or not a mapping of each tier"),
    ({**GOOD, "emergncy": GOOD["emergency"]}, "the tiers must be exactly emergency, urgent, handoff; unknown: emergncy"),
    ({"emergency": GOOD["emergency"], "urgent": GOOD["urgent"]}, "missing: handoff"),
    ({**GOOD, "urgent": []}, "escalation_policy.urgent: must be a list of pages"),
    ({**GOOD, "urgent": [{"after_minutes": 0, "page": "on_call"}, {"afer_minutes": 30, "page": "on_call"}]},
     "escalation_policy.urgent[1]: must be {after_minutes: <minutes>, page: on_call or backup}"),
    ({**GOOD, "emergency": _steps((0, "on_call"), ("five", "on_call"))},
     "escalation_policy.emergency[1]: after_minutes must be a number of minutes, 0 or more, got 'five'"),
    ({**GOOD, "emergency": _steps((0, "on_call"), (True, "on_call"))}, "after_minutes must be a number of minutes"),
    ({**GOOD, "emergency": _steps((0, "on_call"), (-5, "on_call"))}, "after_minutes must be a number of minutes"),
    ({**GOOD, "handoff": _steps((0, "on_call"), (30, "oncall"))},
     "escalation_policy.handoff[1]: page must be one of on_call, backup, got 'oncall'"),
    ({**GOOD, "handoff": _steps((5, "on_call"), (30, "backup"))},
     "escalation_policy.handoff[0]: the first page must be {after_minutes: 0, page: on_call}"),
    ({**GOOD, "handoff": _steps((0, "backup"), (30, "backup"))}, "handoff[0]: the first page must be"),
    ({**GOOD, "emergency": _steps((0, "on_call"), (10, "on_call"), (5, "backup"))},
     "escalation_policy.emergency[2]: after_minutes must be later than the page before it (5 <= 10)"),
])
def test_a_bad_policy_is_refused_saying_where_and_why(tmp_path, policy, error):
    clinic = yaml.safe_load(paths.CLINIC_SETTINGS.read_text())
    clinic["escalation_policy"] = policy
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(clinic))
    with pytest.raises(ValueError) as refused:
        load_clinic(str(path))
    assert str(refused.value).startswith(f"{path}: escalation_policy") and error in str(refused.value)


TWILIO = dict(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="tok", TWILIO_FROM_NUMBER="+15550109999")
SMTP = dict(ESCALATION_SMTP_HOST="127.0.0.1", ESCALATION_EMAIL_FROM="a@clinic.test", ESCALATION_EMAIL_TO="b@clinic.test")


def test_the_backup_is_paged_where_configured_and_the_on_call_otherwise():
    both = load_settings({**TWILIO, **SMTP, "ESCALATION_SMS_TO": ON_CALL_PHONE, "ESCALATION_BACKUP_SMS_TO": BACKUP_PHONE})
    assert list(both.targets_for(ON_CALL)) == ["email", "sms"] and list(both.targets_for(BACKUP)) == ["sms"]
    assert both.targets_for(BACKUP)["sms"].to_number == BACKUP_PHONE
    on_call_only = load_settings({**TWILIO, "ESCALATION_SMS_TO": ON_CALL_PHONE})
    assert on_call_only.targets_for(BACKUP) == on_call_only.targets


@pytest.mark.parametrize("env, error", [
    ({"ESCALATION_SMS_TO": ON_CALL_PHONE, **TWILIO, "ESCALATION_BACKUP_EMAIL_TO": "c@clinic.test"},
     "ESCALATION_SMTP_HOST must be set when ESCALATION_BACKUP_EMAIL_TO is set"),
    ({**SMTP, "ESCALATION_BACKUP_SMS_TO": BACKUP_PHONE}, "TWILIO_ACCOUNT_SID must be set when ESCALATION_BACKUP_SMS_TO"),
    ({**TWILIO, "ESCALATION_BACKUP_SMS_TO": BACKUP_PHONE}, "a backup target needs an on-call target"),
])
def test_a_backup_that_cannot_be_reached_is_refused(env, error):
    with pytest.raises(ValueError, match=error):
        load_settings(env)


def test_nothing_is_issued_while_a_step_is_not_due_or_without_a_first_page(configure, twilio):
    cfg = configure(**_sms_env(twilio))
    store = EscalationStore(cfg.records_db_url)
    _record(store, cfg)
    unpaged = store.record(channel="rest", sender_id="p2", tier="emergency", symptoms=[], message="", recent_turns=[],
                           targets=[], now=START)  # recorded when no target was configured
    assert outbox.issue_due_pages(store, cfg, START + 299) == 0
    assert outbox.issue_due_pages(store, cfg, START + 300) == 1
    assert outbox.issue_due_pages(store, cfg, START + 3600) == 1
    assert outbox.issue_due_pages(store, cfg, START + 7200) == 0
    assert store.events(unpaged.id) == []
    assert {e.id: [(d.target, d.state) for d in ds] for e, ds in store.list()}[unpaged.id] == []
    assert {d.state for _, ds in store.list() for d in ds} == {PENDING}  # issued, not sent: no delivery pass ran
