"""The "what to expect" guide: before, during and after the visit, then a checklist to keep.

This action only moves the `walkthrough_step` slot on; the rule that runs it then sends
utter_walkthrough, whose variants (domain.yml) show that step for the patient's treatment type.
Between steps the patient can ask anything (ordinary rules answer, the step is kept) and say
"next" to carry on. A plain "yes" / "ok" or "no" straight after a part (data/rules.yml) means
next or stop. When the treatment type is unknown the guide asks once, with buttons that
restart it with the type set. A red-flag escalation ends the guide (actions/escalation.py).
"""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from botox_clinic.slots import TREATMENT_TYPE
from botox_clinic.slots import WALKTHROUGH_STEP as STEP_SLOT

CHOOSING = "choose_type"
NEXT_STEP = {CHOOSING: "before", "before": "during", "during": "after", "after": "checklist"}
ENDING_INTENTS = {"walkthrough_stop", "deny"}


class ActionWalkthrough(Action):
    def name(self) -> Text:
        return "action_walkthrough"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        step = tracker.get_slot(STEP_SLOT)
        # An "ok" to the checklist ends the guide rather than starting it again:
        # utter_walkthrough's unconditional variant says it is finished.
        if intent in ENDING_INTENTS or (intent == "affirm" and step in (None, "checklist")):
            return [SlotSet(STEP_SLOT, None)]
        if tracker.get_slot(TREATMENT_TYPE) is None:
            return [SlotSet(STEP_SLOT, CHOOSING)]
        if intent == "start_walkthrough":
            step = None
        # After the checklist (or outside the guide) "next" starts it again.
        return [SlotSet(STEP_SLOT, NEXT_STEP.get(step, "before"))]
