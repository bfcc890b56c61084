"""While a clinician holds a conversation (a conversation_holds row, written by the staff inbox) the
assistant does not answer in it: the patient's first message after the hold starts gets one reply
saying a member of the care team is with them and will reply here, later ones none. Every message
is still recorded in the conversation, for the clinician to read. A red flag still escalates exactly
as in any conversation (the escalation, then the tier's instructions). When the hold ends, the
assistant answers again. A new session's welcome (after an hour's silence) still opens the
conversation: it carries the emergency number.

Put in place of Rasa's `MessageProcessor._run_prediction_loop` (components/rasa_patches.py): the
turn's message is understood and logged as ever, the policies predict as ever, and only what runs
next differs, inside the Rasa server, so a stalled action server changes nothing. The hold is looked
up on a thread of its own, for at most LOOKUP_TIMEOUT_SECONDS: a stalled records database must not
hold the event loop, and then the assistant answers (a reply in a held conversation is the lesser
harm than silence towards a patient nobody may be reading).

A held turn records action_conversation_held, then action_listen. It is not in domain.yml, so
nothing is retrained: no policy ever predicts it, and the rules, which look at the latest message
and the action before it, answer the first message after the hold as in any conversation. The
notice is a BotUttered carrying the hold's start time: that is how a later turn knows the patient
was told during this hold, and a new hold tells them again.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional

from rasa.core.actions.action import Action, ActionListen
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.core.trackers import DialogueStateTracker

from botox_clinic.handoff import HandoffStore, Hold
from botox_clinic.language import DEFAULT_LANGUAGE
from botox_clinic.messages import text
from botox_clinic.settings import get_settings
from botox_clinic.slots import LANGUAGE
from components import escalation

log = logging.getLogger(__name__)

NAME = "action_conversation_held"
POLICY = "conversation_hold"
NOTICE_KEY = "conversation_held_since"  # the BotUttered metadata: which hold the patient was told of
LOOKUP_TIMEOUT_SECONDS = 0.25
_lookups = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hold-lookup")


class ConversationHeld(Action):
    """The held turn: the notice, once per hold."""

    def __init__(self, hold: Hold):
        self._hold = hold

    def name(self) -> str:
        return NAME

    async def run(self, output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                  tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
        if told_of(tracker, self._hold):
            return []
        language = tracker.get_slot(LANGUAGE) or DEFAULT_LANGUAGE
        return [BotUttered(text("handoff.held", language, clinic=get_settings().clinic),
                           metadata={NOTICE_KEY: self._hold.since})]


def told_of(tracker: DialogueStateTracker, hold: Hold) -> bool:
    return any(isinstance(event, BotUttered) and event.metadata.get(NOTICE_KEY) == hold.since
               for event in reversed(tracker.events))


async def hold_for(sender_id: str) -> Optional[Hold]:
    url = get_settings().records_db_url
    lookup = _lookups.submit(lambda: HandoffStore(url).hold(sender_id))
    try:
        return await asyncio.wait_for(asyncio.wrap_future(lookup), LOOKUP_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        log.error("the conversation hold lookup took over %.1f s; answering as if not held", LOOKUP_TIMEOUT_SECONDS)
    except Exception:
        log.exception("the conversation hold lookup failed; answering as if not held")
    return None


def prediction_loop(rasa_loop):
    """Rasa's `MessageProcessor._run_prediction_loop`, holding back the answers in a held conversation."""
    async def run_prediction_loop(self: MessageProcessor, output_channel: OutputChannel,
                                  tracker: DialogueStateTracker) -> None:
        hold = await hold_for(tracker.sender_id)
        if hold is None or not self._should_handle_message(tracker):
            return await rasa_loop(self, output_channel, tracker)
        action, prediction = self.predict_next_with_tracker_if_should(tracker)
        if action.name() == escalation.NAME:
            # Then whatever the policies predict after it, as in any conversation: the instructions.
            if await self._run_action(action, tracker, output_channel, self.nlg, prediction):
                await rasa_loop(self, output_channel, tracker)
            return
        await self._run_action(ConversationHeld(hold), tracker, output_channel, self.nlg,
                               PolicyPrediction([], POLICY))
        await self._run_action(ActionListen(), tracker, output_channel, self.nlg,
                               PolicyPrediction.for_action_name(self.domain, ACTION_LISTEN_NAME, POLICY))

    return run_prediction_loop
