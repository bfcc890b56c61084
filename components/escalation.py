"""The red-flag escalation, run inside the Rasa server: record it, then let utter_escalation tell
the patient what to do now.

Why here and not on the action server: a safety reply must never wait on a part that can stall.
With the escalation on the action server, a paused (SIGSTOP) action server held the patient's
"I can't breathe" for Rasa's 300-second action timeout, and a killed one left them with an error
log line: either way no instructions. Here the escalation needs only the records database, and
waits for it at most RECORD_TIMEOUT_SECONDS: past that (or if the write fails) the patient gets the
same instructions without any claim that the clinic knows, and the write, if it completes later,
is still the one record.

What the reply says is chosen in domain.yml by the slots set here:
- escalation_notified: recorded and at least one delivery target configured, so the clinic is told
  ("I've alerted the clinic"); otherwise the patient is asked to call the clinic themselves;
- escalation_recorded and escalation_reference: the record exists, and its reference.

The red flag was assessed once, by the NLU pipeline (components/red_flag_detector.py), which put
its decision into the message's parse data. A "yes" to "Is this happening to you now?" escalates
the symptom asked about, at its tier.

Rasa has no setting for an in-process custom action: Rasa's action lookup returns this one for its
name (components/in_process_actions.py, put in place by components/rasa_patches.py).
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

from rasa.core.actions.action import Action
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic import slots
from botox_clinic.escalations import EscalationStore
from botox_clinic.red_flags import ASSESSMENT_KEY
from botox_clinic.settings import get_settings

log = logging.getLogger(__name__)

NAME = "action_escalate_red_flag"
RECENT_TURNS = 6
# How long the reply may wait for the record: the whole reply must reach the patient within 2 s.
RECORD_TIMEOUT_SECONDS = 1.0
# Reported by the intent classifier alone: neither detector recognised the wording.
UNRECOGNISED = "possible red flag (wording not recognised by the detectors)"
CONFIRMED = "{} (the patient said it is happening now)"
# Records are written on threads of their own, so a stalled database never holds the event loop
# or the threads other work uses.
_writers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="escalation-record")


def recent_turns(tracker: DialogueStateTracker, limit: int = RECENT_TURNS) -> List[Dict[str, str]]:
    turns = [{"speaker": "patient" if e.type_name == "user" else "assistant", "text": e.text}
             for e in tracker.events if e.type_name in ("user", "bot") and getattr(e, "text", None)]
    return turns[-limit:]


def what_to_escalate(tracker: DialogueStateTracker) -> Dict[str, Any]:
    """The tier and the reasons for the clinician, from the latest message's assessment or, for a
    yes to "Is this happening to you now?", from the message that named the symptom."""
    latest = tracker.latest_message.parse_data.get(ASSESSMENT_KEY) if tracker.latest_message else None
    if latest and latest.get("tier"):
        return {"tier": latest["tier"], "reasons": list(latest.get("reasons") or [])}
    users = [e for e in tracker.events if isinstance(e, UserUttered)]
    asked = users[-2].parse_data.get(ASSESSMENT_KEY) if len(users) >= 2 else None
    if asked and asked.get("action") == "ask":
        return {"tier": asked["possible_tier"],
                "reasons": [CONFIRMED.format(label) for label in asked.get("possible_labels") or []]}
    # The classifier alone routed here; when unsure, urgent (whose reply also gives the emergency
    # number for breathing, swallowing or speech trouble).
    return {"tier": "urgent", "reasons": []}


class EscalateRedFlag(Action):
    def name(self) -> str:
        return NAME

    async def run(self, output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                  tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
        settings = get_settings()
        found = what_to_escalate(tracker)
        tier, symptoms = found["tier"], found["reasons"] or [UNRECOGNISED]
        text = tracker.latest_message.text if tracker.latest_message else ""
        targets = list(settings.targets)
        details = dict(channel=tracker.get_latest_input_channel() or "unknown", sender_id=tracker.sender_id,
                       tier=tier, symptoms=symptoms, message=text or "", recent_turns=recent_turns(tracker),
                       targets=targets)
        reference = await record(details)
        # A red flag ends the "what to expect" guide: nothing should prompt "next" after it.
        return [SlotSet(slots.ESCALATION_TIER, tier), SlotSet(slots.ESCALATION_RECORDED, reference is not None),
                SlotSet(slots.ESCALATION_NOTIFIED, reference is not None and bool(targets)),
                SlotSet(slots.ESCALATION_REFERENCE, reference), SlotSet(slots.WALKTHROUGH_STEP, None)]


async def record(details: Dict[str, Any]) -> Optional[str]:
    """Write an escalation (EscalationStore.record's arguments) on a writer thread; its reference, or
    None when the write failed or took longer than RECORD_TIMEOUT_SECONDS (it then goes on, and is
    still the one record). Also the handoff request's (components/handoff_request.py)."""
    url, tier = get_settings().records_db_url, details["tier"]
    # Opening the store too happens on the writer's thread: it can be what stalls or fails.
    written = _writers.submit(lambda: EscalationStore(url).record(**details))
    try:
        # Shielded: a timeout must not cancel a write still waiting for a thread.
        escalation = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(written)), RECORD_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        # The write goes on and is the one record; the patient is not kept waiting for it.
        log.error("a %s escalation was not recorded within %.1f s; the patient was told without it",
                  tier, RECORD_TIMEOUT_SECONDS)
        written.add_done_callback(_log_late_record)
        return None
    except Exception:  # the patient must still get instructions, whatever broke
        log.exception("could not record a %s escalation", tier)
        return None
    log.warning("%s escalation %s recorded", tier, escalation.id)  # no message text, no sender id
    return escalation.id


def _log_late_record(written) -> None:
    if written.exception() is None:
        log.warning("%s escalation %s recorded late", written.result().tier, written.result().id)
    else:
        log.error("a late escalation record failed: %s", written.exception())
