"""Conversation start: the disclaimer, the clinic's details as slots for every response, and the
treatment type when the patient is replying to an outreach SMS about a known appointment."""
import asyncio
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.appointments import appointment_store
from actions.settings import get_settings


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        clinic = get_settings().clinic.template_values()
        # Slots from an earlier session (the treatment type) carry over, as configured in domain.yml.
        carried = [SlotSet(name, value) for name, value in tracker.slots.items()
                   if value is not None and name not in clinic]
        if tracker.get_slot("treatment_type") is None:
            known = await asyncio.get_running_loop().run_in_executor(
                None, appointment_store().treatment_type_for, tracker.sender_id)
            if known:
                carried.append(SlotSet("treatment_type", known))
        dispatcher.utter_message(response="utter_welcome", **clinic)
        return ([SessionStarted()] + carried + [SlotSet(name, value) for name, value in clinic.items()]
                + [ActionExecuted("action_listen")])
