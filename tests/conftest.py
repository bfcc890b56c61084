"""Shared fixtures: the domain, the red-flag detector, trackers and dispatchers, a private store."""
from pathlib import Path
from typing import Iterable, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import settings as settings_module
from actions.red_flags import load_detector

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


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
    from actions import escalation
    escalation.escalation_store.cache_clear()
    yield settings_module.get_settings
    settings_module.get_settings.cache_clear()
    escalation.escalation_store.cache_clear()
