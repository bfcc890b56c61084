"""What the clinician inbox's tests share: settings on private databases, accounts, escalations
with chosen times, the CSRF token of a page, logging in through the form, the inbox process."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from conftest import ROOT
from receivers import free_port

from botox_clinic import records
from botox_clinic.escalations import Escalation, EscalationStore
from botox_clinic.inbox_store import InboxStore
from botox_clinic.passwords import hash_password
from botox_clinic.settings import Settings, load_settings

PASSWORD = "correct horse battery staple"
SMS_PATIENT = "+15550100123"


def inbox_settings(tmp_path: Path, **env: str) -> Settings:
    """Settings on private records and tracker databases; nothing from this process's environment."""
    return load_settings({"RECORDS_DB_URL": f"sqlite:///{tmp_path / 'records.db'}",
                          "CLINIC_INBOX_SECRET_KEY": "test-only-key-" + "k" * 32,
                          "CLINIC_INBOX_TRACKER_DB_URL": f"sqlite:///{tmp_path / 'trackers.db'}", **env})


def add_clinician(store: InboxStore, username: str = "ana", name: str = "Dr Ana Ruiz") -> None:
    store.add_clinician(username, name, hash_password(PASSWORD))


def record(url: str, *, tier: str = "emergency", channel: str = "twilio", sender_id: str = SMS_PATIENT,
           message: str = "i can't swallow properly", symptoms=("difficulty swallowing",)) -> Escalation:
    return EscalationStore(url).record(
        channel=channel, sender_id=sender_id, tier=tier, symptoms=list(symptoms), message=message,
        recent_turns=[{"speaker": "patient", "text": "hello"}, {"speaker": "assistant", "text": "Hi! Ask me anything."},
                      {"speaker": "patient", "text": message}], targets=[])


def record_at(url: str, created_at: str, tier: str, reference: str) -> None:
    """An escalation recorded at a chosen time (the summary's weeks and delays)."""
    with records.engine(url).begin() as conn:
        conn.execute(records.escalations.insert().values(
            id=reference, created_at=created_at, channel="twilio", sender_id=SMS_PATIENT, tier=tier,
            symptoms=json.dumps(["difficulty swallowing"]), message="i can't swallow", recent_turns="[]"))


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def log_in(client, username: str = "ana", password: str = PASSWORD, address: Optional[str] = None):
    extra = {"environ_base": {"REMOTE_ADDR": address}} if address else {}
    token = csrf_token(client.get("/", **extra).text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, **extra)


def page_token(client) -> str:
    """The CSRF token of a logged-in client's session, as its inbox page carries it."""
    return csrf_token(client.get("/").text)


@dataclass
class RunningInbox:
    url: str
    records_db_url: str
    log_path: Path


@contextmanager
def running_inbox(tmp: Path, records_db_url: str, tracker_db_url: str):
    """`python -m inbox` on a free port over these databases, with the account ana (PASSWORD)."""
    port = free_port()
    env = {**os.environ, "RECORDS_DB_URL": records_db_url, "CLINIC_INBOX_HOST": "127.0.0.1",
           "CLINIC_INBOX_PORT": str(port), "CLINIC_INBOX_SECRET_KEY": "browser-test-" + "s" * 40,
           "CLINIC_INBOX_TRACKER_DB_URL": tracker_db_url, "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    subprocess.run([sys.executable, "-m", "commands.clinicians", "add-clinician", "ana", "--name", "Dr Ana Ruiz",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, cwd=ROOT, env=env, check=True,
                   capture_output=True)
    log_path = tmp / "inbox.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "inbox"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail("the inbox did not start: see " + str(log_path))
                time.sleep(0.2)
        yield RunningInbox(url, records_db_url, log_path)
    finally:
        server.terminate()
        server.wait()
