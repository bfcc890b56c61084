"""Shared fixtures: the domain, the red-flag detector, trackers and dispatchers, a private store,
a tracker store on a private SQLite file, the trained model in this process, and the running
assistant."""
import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import settings as settings_module
from actions.escalation_store import EscalationStore
from actions.red_flags import load_detector
from receivers import TwilioApiStandIn, free_port

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODEL = ROOT / "models/current.tar.gz"


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="session")
def domain() -> dict:
    return load_yaml(ROOT / "domain.yml")


@pytest.fixture(scope="session")
def detector():
    return load_detector(str(ROOT / "build/spacy/en_botox_lookup"), str(ROOT / "clinic/red_flags.yml"))


@pytest.fixture
def store(tmp_path):
    """Our tracker store (components/tracker_store.py) on a fresh SQLite file."""
    from rasa.shared.core.domain import Domain

    from components.tracker_store import PrivacyAwareSQLTrackerStore

    return PrivacyAwareSQLTrackerStore(Domain.load(ROOT / "domain.yml"), dialect="sqlite", db=str(tmp_path / "t.db"))


def stored_events(store, sender_id: str) -> list:
    """Every event the tracker store holds for a conversation, all sessions, in stored order."""
    tracker = asyncio.run(store.retrieve_full_tracker(sender_id))
    return [] if tracker is None else list(tracker.events)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def make_tracker():
    """A tracker whose latest message is `text`, after the given (speaker, text) turns."""

    def make(text: str = "", *, intent: str = "greet", turns: Iterable[tuple] = (), slots: Optional[dict] = None,
             channel: str = "rest", sender_id: str = "patient-1") -> Tracker:
        events = [{"event": "user" if who == "patient" else "bot", "text": said} for who, said in turns]
        latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
        events.append({"event": "user", "text": text, "parse_data": latest, "input_channel": channel})
        return Tracker(sender_id, slots or {}, latest, events, False, None, {}, "action_listen")

    return make


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings with a private SQLite escalation store; extra env can be set before first use."""
    monkeypatch.setenv("ESCALATION_DB_URL", f"sqlite:///{tmp_path / 'escalations.db'}")
    for name in ("ESCALATION_WEBHOOK_URL", "ESCALATION_SMTP_HOST", "ESCALATION_SMS_TO"):
        monkeypatch.delenv(name, raising=False)
    settings_module.get_settings.cache_clear()
    from actions import appointments, escalation
    escalation.escalation_store.cache_clear()
    appointments.appointment_store.cache_clear()
    yield settings_module.get_settings
    settings_module.get_settings.cache_clear()
    escalation.escalation_store.cache_clear()
    appointments.appointment_store.cache_clear()


@dataclass
class RunningAssistant:
    url: str
    escalations: EscalationStore
    escalation_db_url: str  # also where SMS opt-outs are kept
    twilio: TwilioApiStandIn  # where SMS replies arrive
    sms_webhook_url: str  # the public URL Twilio would sign, deliberately not the loopback one
    twilio_auth_token: str
    demo_page_url: str  # the demo clinic page, on its own origin, embedding the widget
    tracker_db: Path  # the SQLite tracker store
    log_path: Path  # everything the action server and Rasa printed, at their default log level


@pytest.fixture(scope="session")
def processor():
    """Rasa's message processor with the trained model, in this process."""
    from rasa.core.agent import load_agent

    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does)")
    return asyncio.run(load_agent(model_path=str(MODEL))).processor


@pytest.fixture(scope="session")
def assistant(tmp_path_factory):
    """The trained model served for real: action server and Rasa (REST and SMS) on free ports,
    private stores, and a Twilio API stand-in receiving the SMS replies."""
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does)")
    tmp = tmp_path_factory.mktemp("assistant")
    rasa_port, action_port = free_port(), free_port()
    db = f"sqlite:///{tmp / 'escalations.db'}"
    (tmp / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        f"tracker_store:\n  type: components.tracker_store.PrivacyAwareSQLTrackerStore\n  dialect: sqlite\n"
        f"  db: {tmp / 'trackers.db'}\nlock_store:\n  type: in_memory\n")
    twilio = TwilioApiStandIn("AC" + "1" * 32, "test-twilio-token")
    public_sms_url = "https://clinic.example.org/webhooks/twilio/webhook"
    page_port = free_port()
    page_dir = tmp / "demo"
    page_dir.mkdir()
    (page_dir / "index.html").write_text((ROOT / "web/demo/index.html").read_text().replace(
        "http://localhost:5005", f"http://127.0.0.1:{rasa_port}"))
    env = {**os.environ, "ESCALATION_DB_URL": db, "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "SANIC_HOST": "127.0.0.1",
           "SANIC_REQUEST_MAX_SIZE": "1000000",
           "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
           "TWILIO_FROM_NUMBER": "+15550109999", "TWILIO_API_BASE": twilio.url, "TWILIO_WEBHOOK_URL": public_sms_url,
           "WEB_CHAT_ORIGINS": f"http://127.0.0.1:{page_port}"}
    rasa = str(ROOT / ".venv/bin/rasa")
    logs = open(tmp / "servers.log", "wb")
    procs = [
        subprocess.Popen([rasa, "run", "actions", "--actions", "actions", "--port", str(action_port)], cwd=ROOT,
                         env=env, stdout=logs, stderr=subprocess.STDOUT),
        subprocess.Popen([rasa, "run", "--model", str(MODEL), "--endpoints", str(tmp / "endpoints.yml"),
                          "--credentials", str(ROOT / "credentials.yml"), "--port", str(rasa_port)], cwd=ROOT,
                         env=env, stdout=logs, stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "http.server", str(page_port), "--bind", "127.0.0.1",
                          "--directory", str(page_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    url = f"http://127.0.0.1:{rasa_port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/webhooks/rest/", timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        pytest.fail("the Rasa server did not start: see " + str(tmp / "servers.log"))
    yield RunningAssistant(url, EscalationStore(db), db, twilio, public_sms_url, twilio.auth_token,
                           f"http://127.0.0.1:{page_port}/", tmp / "trackers.db", tmp / "servers.log")
    for p in procs:
        p.terminate()
        p.wait()
    twilio.close()
