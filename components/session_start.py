"""Conversation start, run inside the Rasa server: the disclaimer, the clinic's details as slots for
every response, the slots carried over from the last session, the treatment type when the patient
is replying to an outreach SMS about a known appointment, and the conversation's language from the
widget's page or the outreach list (botox_clinic/language.py), so the disclaimer is in it.

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

from typing import Dict, List, Optional, Tuple

import rasa.core.actions.action as rasa_actions
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.shared.core.constants import SESSION_START_METADATA_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.appointments import AppointmentStore
from botox_clinic.language import DEFAULT_LANGUAGE, MESSAGE_LANGUAGE_KEY, OUTREACH, PAGE, PATIENT, STRENGTH, supported
from botox_clinic.settings import get_settings
from botox_clinic.slots import LANGUAGE, LANGUAGE_SOURCE, TREATMENT_TYPE

WELCOME = "utter_welcome"


class ClinicSessionStart(rasa_actions.ActionSessionStart):
    async def run(self, output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                  tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
        settings = get_settings()
        clinic = settings.clinic.template_values()
        # Slots from an earlier session (the treatment type) carry over, if domain.yml says so.
        carried = [SlotSet(name, value) for name, value in tracker.current_slot_values().items()
                   if value is not None and name not in clinic] if domain.session_config.carry_over_slots else []
        appointments = AppointmentStore(settings.records_db_url)
        if not any(event.key == TREATMENT_TYPE for event in carried):
            # One indexed lookup; cheaper in the event loop than a thread hop back into its queue.
            known = appointments.treatment_type_for(tracker.sender_id)
            if known:
                carried.append(SlotSet(TREATMENT_TYPE, known))
        language = self._language(tracker, appointments, carried)
        if language:
            carried = [event for event in carried if event.key not in (LANGUAGE, LANGUAGE_SOURCE)]
            carried += [SlotSet(LANGUAGE, language[0]), SlotSet(LANGUAGE_SOURCE, language[1])]
            # The welcome below is chosen by this slot; the SlotSet after SessionStarted keeps it.
            tracker.slots[LANGUAGE].value = language[0]
        return ([await self._welcome(output_channel, nlg, tracker, clinic), SessionStarted()] + carried
                + [SlotSet(name, value) for name, value in clinic.items()] + [ActionExecuted("action_listen")])

    @staticmethod
    def _language(tracker: DialogueStateTracker, appointments: AppointmentStore,
                  carried: List[SlotSet]) -> Optional[Tuple[str, str]]:
        """The widget's page language (its metadata), else the language of the message that opens
        the conversation (SMS: the channel passes it), else the outreach list's for this number;
        none of them when the patient chose one in an earlier session (carried over). English from
        the page or the list is what is assumed anyway: it does not stop a short Spanish message
        from turning the conversation to Spanish."""
        if any(event.key == LANGUAGE_SOURCE and event.value == PATIENT for event in carried):
            return None
        metadata = tracker.get_slot(SESSION_START_METADATA_SLOT)
        metadata = metadata if isinstance(metadata, dict) else {}
        page = supported(metadata.get("lang"))
        if page and page != DEFAULT_LANGUAGE:
            return page, PAGE
        # By SMS or REST the conversation opens with the patient's message: what it says goes first.
        said = metadata.get(MESSAGE_LANGUAGE_KEY)
        if isinstance(said, list) and len(said) == 2 and supported(said[0]) and said[1] in STRENGTH:
            return said[0], said[1]
        listed = supported(appointments.language_for(tracker.sender_id))
        if listed and listed != DEFAULT_LANGUAGE:
            return listed, OUTREACH
        return None

    @staticmethod
    async def _welcome(output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                       tracker: DialogueStateTracker, clinic: Dict[str, str]) -> Event:
        # The channel picks the variant (a one-segment SMS for Twilio); the clinic's details fill it.
        message = await nlg.generate(WELCOME, tracker, output_channel.name(), **clinic)
        return rasa_actions.create_bot_utterance({**message, "utter_action": WELCOME})
