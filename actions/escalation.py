"""Escalate a red-flag report: record it durably, then let utter_escalation tell the patient.

The record (with one pending delivery per clinic target) is committed before this action returns,
so before the reply that says the clinic was notified; botox_clinic/outbox.py delivers it. The
reply's wording and its `custom` payload are chosen in domain.yml by the escalation_* slots set
here: if the record cannot be written, the patient gets the same instructions without the claim
that anybody was told.

The red flag was assessed once, in the Rasa server's NLU pipeline (components/red_flag_detector.py):
this action reads that assessment from the message's parse data.
"""
import asyncio
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from botox_clinic import slots
from botox_clinic.escalations import EscalationStore
from botox_clinic.red_flags import ASSESSMENT_KEY
from botox_clinic.settings import get_settings

log = logging.getLogger(__name__)

RECENT_TURNS = 6
# Reported by the intent classifier alone: the detector did not recognise the wording.
UNRECOGNISED = "possible red flag (wording not recognised by the detector)"


def recent_turns(tracker: Tracker, limit: int = RECENT_TURNS) -> List[Dict[str, str]]:
    turns = [{"speaker": "patient" if e["event"] == "user" else "assistant", "text": e.get("text") or ""}
             for e in tracker.events if e.get("event") in ("user", "bot") and e.get("text")]
    return turns[-limit:]


class ActionEscalateRedFlag(Action):
    def name(self) -> Text:
        return "action_escalate_red_flag"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        assessment = tracker.latest_message.get(ASSESSMENT_KEY) or {}
        # The classifier alone can route here; when unsure, escalate as urgent (which also tells
        # the patient to call the emergency number for breathing, swallowing or speech trouble).
        tier = assessment.get("tier") or "urgent"
        symptoms = list(assessment.get("reasons") or []) or [UNRECOGNISED]
        reference = await self._record(tracker, tier, symptoms, text)
        # A red flag ends the "what to expect" guide: nothing should prompt "next" after it.
        return [SlotSet(slots.ESCALATION_TIER, tier), SlotSet(slots.ESCALATION_RECORDED, reference is not None),
                SlotSet(slots.ESCALATION_REFERENCE, reference), SlotSet(slots.WALKTHROUGH_STEP, None)]

    async def _record(self, tracker: Tracker, tier: str, symptoms: List[str], text: str) -> Optional[str]:
        settings = get_settings()
        try:
            escalation = await asyncio.get_running_loop().run_in_executor(None, lambda: EscalationStore(
                settings.records_db_url).record(
                channel=tracker.get_latest_input_channel() or "unknown", sender_id=tracker.sender_id,
                tier=tier, symptoms=symptoms, message=text, recent_turns=recent_turns(tracker),
                targets=settings.targets.keys()))
        except Exception:  # the patient must still get instructions, whatever broke
            log.exception("could not record a %s escalation", tier)
            return None
        log.warning("%s escalation %s recorded", tier, escalation.id)  # no message text, no sender id
        return escalation.id
