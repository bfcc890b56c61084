"""The clinic's own details, answered inside the Rasa server from clinic/settings.yml: how to reach
it, where it is, when it is open, and a booking link. Each detail is optional there; the rules
predict a response of domain.yml for each question, and these actions take those names
(components/in_process_actions.py): with the detail set they answer from the message catalogue,
without it the response itself answers (call the clinic). Nothing is retrained when a clinic adds
its address, and no answer about the clinic waits on the action server.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

from rasa.core.actions.action import Action, ActionBotResponse
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.handoff import describe_hours
from botox_clinic.language import DEFAULT_LANGUAGE
from botox_clinic.messages import text
from botox_clinic.settings import ClinicSettings, get_settings
from botox_clinic.slots import LANGUAGE


def _hours(clinic: ClinicSettings, language: str) -> Optional[Dict[str, str]]:
    return {"opening_hours": describe_hours(clinic.opening_hours, language)} if clinic.opening_hours else None


def _address(clinic: ClinicSettings, language: str) -> Optional[Dict[str, str]]:
    return {"address": clinic.address} if clinic.address else None


def _booking_url(clinic: ClinicSettings, language: str) -> Optional[Dict[str, str]]:
    return {"booking_url": clinic.booking_url} if clinic.booking_url else None


# Response name -> (the catalogue's sentence, the setting's placeholders or None when it is not set).
ANSWERS: Dict[str, tuple] = {
    "utter_clinic_contact": ("clinic.contact", _hours),
    "utter_clinic_location": ("clinic.location", _address),
    "utter_clinic_hours": ("clinic.hours", _hours),
    "utter_booking": ("clinic.booking", _booking_url),
}


class ClinicDetail(Action):
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    async def run(self, output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                  tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
        key, detail = ANSWERS[self._name]
        clinic = get_settings().clinic
        language = tracker.get_slot(LANGUAGE) or DEFAULT_LANGUAGE
        values = detail(clinic, language)
        if values is None:
            return await ActionBotResponse(self._name).run(output_channel, nlg, tracker, domain)
        return [BotUttered(text(key, language, clinic=clinic, **values))]


def actions() -> Dict[str, Callable[[], Action]]:
    """An action factory per response name, for components/in_process_actions.py."""
    return {name: (lambda name=name: ClinicDetail(name)) for name in ANSWERS}
