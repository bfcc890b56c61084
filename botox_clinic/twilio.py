"""The one client of Twilio's Messages API, for SMS replies, outreach and escalation notices.

Twilio takes a form-encoded To/From/Body POST with HTTP basic auth. A send is tried up to
SEND_ATTEMPTS times with exponential backoff on a network error, a timeout, 429 or a 5xx; any other
4xx is final (retrying a refused number or body changes nothing). Async for the Rasa server's
event loop; `send_blocking` is the face for the synchronous commands (outbox worker, outreach).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

import aiohttp

from botox_clinic.settings import TwilioAccount

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 4
SEND_TIMEOUT_SECONDS = 10
FIRST_RETRY_SECONDS = 0.5


class DeliveryError(Exception):
    """A message (or an escalation notice) could not be delivered; the text says why."""


class TwilioClient:
    def __init__(self, account: TwilioAccount):
        self._account = account
        self._session: Optional[aiohttp.ClientSession] = None

    async def send(self, to: str, body: str) -> None:
        """Send one SMS; raises DeliveryError when Twilio refused it or every attempt failed."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS))
        await self._send(self._session, to, body)

    def send_blocking(self, to: str, body: str) -> None:
        """`send`, for code without an event loop: its own loop and session for this one message."""
        async def once() -> None:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS)) as session:
                await self._send(session, to, body)

        asyncio.run(once())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _send(self, session: aiohttp.ClientSession, to: str, body: str) -> None:
        account = self._account
        auth = aiohttp.BasicAuth(account.account_sid, account.auth_token)
        form = {"To": to, "From": account.from_number, "Body": body}
        problem = "no attempt made"
        for attempt in range(SEND_ATTEMPTS):
            if attempt:
                await asyncio.sleep(FIRST_RETRY_SECONDS * 2 ** (attempt - 1))
            try:
                async with session.post(account.messages_url, data=form, auth=auth) as response:
                    if response.status < 300:
                        return
                    detail = (await response.text())[:200]
                    problem = f"HTTP {response.status}"
                    if response.status < 500 and response.status != 429:
                        raise DeliveryError(f"Twilio refused the message: {problem} {detail}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                problem = type(exc).__name__
            log.warning("SMS attempt %d failed: %s", attempt + 1, problem)
        raise DeliveryError(f"SMS not sent after {SEND_ATTEMPTS} attempts: {problem}")
