"""A patient asking for a person ("can I talk to someone?", intent request_human), answered inside
the Rasa server by the clinic's opening hours (clinic/settings.yml):

- in opening hours: a handoff request, recorded as an escalation of tier "handoff" (the staff inbox
  lists it after the urgent ones, and the escalation policy pages it), and the patient is told a
  member of the team will reply in this conversation;
- outside them: the clinic's number and its hours;
- with no opening hours set, or if the request could not be recorded: utter_human, the number, as
  before. A patient is never told someone will reply unless the request is in the records.

The rules predict the response utter_human for request_human; this action takes its name
(components/in_process_actions.py), so nothing is retrained and the stories after it still apply.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import List

from rasa.core.actions.action import Action, ActionBotResponse
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.handoff import describe_hours
from botox_clinic.language import DEFAULT_LANGUAGE
from botox_clinic.messages import text
from botox_clinic.settings import get_settings
from botox_clinic.slots import LANGUAGE
from components import escalation

NAME = "utter_human"
TIER = "handoff"
# What the inbox shows as the request's reason (read by clinicians).
REASON = "the patient asked to talk to a person"


class RequestHuman(Action):
    def name(self) -> str:
        return NAME

    async def run(self, output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                  tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
        settings = get_settings()
        clinic = settings.clinic
        language = tracker.get_slot(LANGUAGE) or DEFAULT_LANGUAGE
        if clinic.opening_hours is None:
            return await ActionBotResponse(NAME).run(output_channel, nlg, tracker, domain)
        if not clinic.is_open(datetime.now(timezone.utc)):
            return [BotUttered(text("handoff.closed", language, clinic=clinic,
                                    opening_hours=describe_hours(clinic.opening_hours, language)))]
        reference = await escalation.record(dict(
            channel=tracker.get_latest_input_channel() or "unknown", sender_id=tracker.sender_id, tier=TIER,
            symptoms=[REASON], message=(tracker.latest_message.text if tracker.latest_message else None) or "",
            recent_turns=escalation.recent_turns(tracker), targets=list(settings.targets)))
        if reference is None:
            return await ActionBotResponse(NAME).run(output_channel, nlg, tracker, domain)
        return [BotUttered(text("handoff.requested", language, clinic=clinic))]
