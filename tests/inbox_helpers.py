"""What the clinician inbox's tests share: settings on private databases, accounts, escalations
with chosen times, the CSRF token of a page, logging in through the form."""
import json
import re
from pathlib import Path
from typing import Optional

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
