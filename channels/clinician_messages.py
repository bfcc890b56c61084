"""Messages a clinician wrote to a patient (botox_clinic/handoff.py), delivered on the patient's own
channel, each once, with who wrote it in front:

- channels that can reach the patient at any time (the web chat's open socket, SMS) run a
  ClinicianMessageRelay: a background task in each Rasa server process that polls the records
  database every POLL_SECONDS and hands each message to the channel;
- REST, which only answers requests, puts them first in the reply to the patient's next message
  (`take_for_reply`).

A message is claimed (for a lease) before it is sent and marked delivered after, so of several Rasa
replicas one sends it, and one that died before marking it leaves it to be sent again when the lease
ends (at least once, never lost); one the channel could not deliver is put back and tried again after a pause that doubles each time. With
tell_patient_when_seen (clinic/settings.yml) each pass first queues the "seen" notices of the
channel's acknowledged escalations, which then go out the same way.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

from sanic import Blueprint

from botox_clinic.handoff import ClinicianMessage, HandoffStore, patient_text
from botox_clinic.settings import get_settings

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# A REST reply waits at most this long for them: a red flag's reply must not hang on a stalled
# records database. Threads of their own, so a stall does not take the event loop's default ones.
REPLY_TIMEOUT_SECONDS = 0.25
RETRY_FIRST_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
_reads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clinician-messages")

# (patient's sender id, text) -> whether it reached them.
Deliver = Callable[[str, str], Awaitable[bool]]
# sender id -> whether the channel can reach them now (a message for one it cannot stays unclaimed).
Reachable = Callable[[str], Awaitable[bool]]


class ClinicianMessageRelay:
    def __init__(self, channel: str, deliver: Deliver, reachable: Reachable):
        self.channel = channel
        self._deliver, self._reachable = deliver, reachable
        self._failures: Dict[int, Tuple[int, float]] = {}  # message id -> (failed attempts, retry after)
        self._task: Optional[asyncio.Task] = None

    def run_with(self, blueprint: Blueprint) -> None:
        """Poll while the server that registers `blueprint` runs."""
        @blueprint.listener("after_server_start")
        async def start(app, loop) -> None:
            self._task = loop.create_task(self.run())

        @blueprint.listener("before_server_stop")
        async def stop(app, loop) -> None:
            if self._task:
                self._task.cancel()

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_pending()
            except Exception:  # a database hiccup must not end the relay
                log.exception("%s clinician messages: a delivery pass failed", self.channel)
            await asyncio.sleep(POLL_SECONDS)

    async def deliver_pending(self) -> int:
        """One pass; returns how many messages reached patients."""
        settings = get_settings()
        store = HandoffStore(settings.records_db_url)
        loop = asyncio.get_running_loop()
        if settings.clinic.tell_patient_when_seen:
            await loop.run_in_executor(_reads, store.queue_seen_notices, self.channel, settings.clinic)
        pending = await loop.run_in_executor(_reads, store.pending, self.channel)
        self._failures = {id_: failed for id_, failed in self._failures.items() if id_ in {m.id for m in pending}}
        delivered = 0
        for message in pending:
            if not self._due(message) or not await self._reachable(message.sender_id):
                continue
            if not await loop.run_in_executor(_reads, store.claim, message.id):
                continue  # another process took it
            if await self._deliver(message.sender_id, patient_text(message, settings.clinic)):
                await loop.run_in_executor(_reads, store.mark_delivered, message.id)
                self._failures.pop(message.id, None)
                delivered += 1
            else:
                await loop.run_in_executor(_reads, store.release, message.id)
                self._note_failure(message)
        return delivered

    def _due(self, message: ClinicianMessage) -> bool:
        return self._failures.get(message.id, (0, 0.0))[1] <= time.monotonic()

    def _note_failure(self, message: ClinicianMessage) -> None:
        failed = self._failures.get(message.id, (0, 0.0))[0] + 1
        pause = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (failed - 1))
        self._failures[message.id] = (failed, time.monotonic() + pause)
        log.warning("%s clinician message %d not delivered (attempt %d); next try in %.0f s",
                    self.channel, message.id, failed, pause)


async def take_for_reply(channel: str, sender_id: str) -> List[str]:
    """The patient's undelivered clinician messages as they read them, claimed for the reply being
    built; none if the records database does not answer within REPLY_TIMEOUT_SECONDS."""
    taken = asyncio.get_running_loop().run_in_executor(_reads, _take, channel, sender_id)
    try:
        # Shielded: a timeout must not cancel a claim that may still complete; _put_back undoes it.
        messages = await asyncio.wait_for(asyncio.shield(taken), REPLY_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        log.error("clinician messages not read within %.2f s; they wait for the next reply", REPLY_TIMEOUT_SECONDS)
        taken.add_done_callback(_put_back)
        return []
    except Exception:  # the patient's own message must still be answered
        log.exception("clinician messages could not be read")
        return []
    clinic = get_settings().clinic
    return [patient_text(message, clinic) for message in messages]


def _take(channel: str, sender_id: str) -> List[ClinicianMessage]:
    settings = get_settings()
    store = HandoffStore(settings.records_db_url)
    if settings.clinic.tell_patient_when_seen:
        store.queue_seen_notices(channel, settings.clinic, sender_id)
    return store.take_pending(channel, sender_id)


def _put_back(taken: asyncio.Future) -> None:
    """Messages claimed too late for the reply they were taken for are left for the next one."""
    if taken.exception() is None and taken.result():
        store = HandoffStore(get_settings().records_db_url)
        _reads.submit(lambda: [store.release(message.id) for message in taken.result()])
