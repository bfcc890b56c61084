"""Conversation start, run inside the Rasa server: the disclaimer, the clinic's details as slots for
every response, the slots carried over from the last session, and the treatment type when the
patient is replying to an outreach SMS about a known appointment.

Why here and not on the action server: every conversation's first turn waited for that call, and
under load the wait was not the action server (2 ms) but Rasa's event loop. aiohttp writes the
request body in a task of its own and the reply is read in another, so the turn queued twice behind
every other conversation's turn: with 10 concurrent conversations the call took 190 ms at p50 and
the first turn three times as long as the others. The same steps here take half a millisecond, and
a conversation still opens with the emergency number when the action server is down.

Rasa has no setting for an in-process action; its built-in `action_session_start` is the one it
runs when the domain does not list the action for the action server, so ours replaces it there
(components/rasa_patches.py puts it in place).
"""
from __future__ import annotations

from typing import Dict, List

import rasa.core.actions.action as rasa_actions
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.appointments import AppointmentStore
from botox_clinic.settings import get_settings
from botox_clinic.slots import TREATMENT_TYPE

WELCOME = "utter_welcome"


class ClinicSessionStart(rasa_actions.ActionSessionStart):
    async def run(self, output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                  tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
        settings = get_settings()
        clinic = settings.clinic.template_values()
        # Slots from an earlier session (the treatment type) carry over, if domain.yml says so.
        carried = [SlotSet(name, value) for name, value in tracker.current_slot_values().items()
                   if value is not None and name not in clinic] if domain.session_config.carry_over_slots else []
        if not any(event.key == TREATMENT_TYPE for event in carried):
            # One indexed lookup; cheaper in the event loop than a thread hop back into its queue.
            known = AppointmentStore(settings.records_db_url).treatment_type_for(tracker.sender_id)
            if known:
                carried.append(SlotSet(TREATMENT_TYPE, known))
        return ([await self._welcome(output_channel, nlg, tracker, clinic), SessionStarted()] + carried
                + [SlotSet(name, value) for name, value in clinic.items()] + [ActionExecuted("action_listen")])

    @staticmethod
    async def _welcome(output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                       tracker: DialogueStateTracker, clinic: Dict[str, str]) -> Event:
        # The channel picks the variant (a one-segment SMS for Twilio); the clinic's details fill it.
        message = await nlg.generate(WELCOME, tracker, output_channel.name(), **clinic)
        return rasa_actions.create_bot_utterance({**message, "utter_action": WELCOME})
