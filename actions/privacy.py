"""'Forget me': delete the patient's conversation after they confirmed.

The deletion itself happens in the tracker store (components/tracker_store.py) when the tracker
being saved has the `conversation_deleted` slot set, which only this action does, after the
confirmation. This action makes sure a confirmation came first and notes on the conversation's
escalations, which are kept as clinical records, that the patient asked.
"""
import asyncio
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from botox_clinic.escalations import EscalationStore
from botox_clinic.records import utc_now_iso
from botox_clinic.settings import get_settings
from botox_clinic.slots import CONVERSATION_DELETED

log = logging.getLogger(__name__)

CONFIRMATION = "utter_confirm_data_deletion"
KEPT_NOTE = ("The patient asked for their conversation to be deleted on {date}; it was deleted. "
             "This escalation record is kept as a clinical record.")


def confirmed_just_now(tracker: Tracker) -> bool:
    """True when the assistant's last action before this message asked for the confirmation."""
    actions = [e.get("name") for e in tracker.events if e.get("event") == "action"
               and e.get("name") not in ("action_listen", None)]
    return bool(actions) and actions[-1] == CONFIRMATION


class ActionForgetConversation(Action):
    def name(self) -> Text:
        return "action_forget_conversation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if not confirmed_just_now(tracker):
            # Never delete on a stray "yes": ask (again), skip the rule's "deleted" reply, and let
            # the next turn confirm.
            dispatcher.utter_message(response=CONFIRMATION)
            return [FollowupAction("action_listen")]
        note = KEPT_NOTE.format(date=utc_now_iso())
        try:
            kept = await asyncio.get_running_loop().run_in_executor(
                None, EscalationStore(get_settings().records_db_url).add_note_for_sender, tracker.sender_id, note)
        except Exception:  # the deletion request stands; the note is best effort
            log.exception("could not note a deletion request on the conversation's escalations")
            kept = []
        log.info("Conversation deletion confirmed; %d escalation record(s) kept.", len(kept))
        # utter_data_deleted follows (rules.yml); the tracker store deletes the turn and all before it.
        return [SlotSet(CONVERSATION_DELETED, True)]
