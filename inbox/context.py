"""What the inbox's views share, kept on the application: the store, the settings, the clinician."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Optional
from zoneinfo import ZoneInfo

from flask import current_app, g

from botox_clinic.inbox_store import Clinician, InboxStore
from botox_clinic.settings import Settings


@dataclass(frozen=True)
class Inbox:
    store: InboxStore
    settings: Settings

    def display_names(self) -> Dict[str, str]:
        return {clinician.username: clinician.display_name for clinician in self.store.clinicians()}

    def local_time(self, iso: Optional[str]) -> str:
        """A record's time in the clinic's time zone, e.g. "Tue 2 Dec 14:05"."""
        if not iso:
            return ""
        moment = datetime.fromisoformat(iso).astimezone(ZoneInfo(self.settings.clinic.timezone))
        return f"{moment:%a} {moment.day} {moment:%b %H:%M}"


def current_inbox() -> Inbox:
    return current_app.extensions["clinic_inbox"]


def signed_in() -> Optional[Clinician]:
    """The clinician of this request's session (set by inbox/auth.py before every view), or None."""
    return g.get("clinician")
