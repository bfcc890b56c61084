"""A red flag gets its instructions and the escalation payload within 2 seconds, and exactly one
record, on every channel, whatever the action server is doing: paused (SIGSTOP, as a hung process
or a long pause looks) or killed. After it is back, nothing is recorded twice."""
import asyncio
import itertools
import json
import signal
import time

import pytest
import socketio
from conftest import running_assistant
from rest_client import say
from socket_client import disconnect
from test_twilio_sms import text as sms
from test_twilio_sms import wait_for

REPORT = "I can't breathe and my throat is closing"
LIMIT_SECONDS = 2.0
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def notifying_assistant(tmp_path_factory):
    """An assistant with a delivery target configured (a webhook; nothing needs to receive it)."""
    target = {"ESCALATION_WEBHOOK_URL": "http://127.0.0.1:9/unused", "ESCALATION_WEBHOOK_SECRET": "fault-tests"}
    with running_assistant(tmp_path_factory.mktemp("faults"), target) as running:
        yield running


def _escalations_of(assistant, sender):
    return [e for e, _ in assistant.escalations.list(limit=1000) if e.sender_id == sender]


def _payload(messages):
    return next((m["custom"] for m in messages if isinstance(m.get("custom"), dict)
                 and m["custom"].get("type") == "escalation"), None)


def _by_rest(assistant):
    sender = f"fault-rest-{next(_ids)}"
    started = time.monotonic()
    status, replies = say(assistant.url, sender, REPORT)
    elapsed = time.monotonic() - started
    assert status == 200
    return sender, elapsed, " ".join(r.get("text") or "" for r in replies), _payload(replies)


def _by_sms(assistant):
    phone = f"+1555030{next(_ids):04d}"
    started = time.monotonic()
    status, _ = sms(assistant, phone, REPORT)
    assert status == 200
    bodies = wait_for(assistant, phone, "911", timeout=LIMIT_SECONDS)
    elapsed = time.monotonic() - started
    # By SMS the payload is the escalation record itself: the reply names its reference.
    joined = "\n".join(bodies)
    reference = next((e.id for e in _escalations_of(assistant, phone)), None)
    return phone, elapsed, joined, {"reference": reference} if reference and reference in joined else None


def _by_web_chat(assistant):
    async def chat():
        client = socketio.AsyncClient()
        received, confirmed = [], asyncio.Event()
        session = {}

        @client.on("session_confirm")
        async def on_confirm(session_id):
            session["id"] = session_id
            confirmed.set()

        @client.on("bot_uttered")
        async def on_bot(message):
            received.append(message)

        origin = assistant.demo_page_url.rstrip("/")
        await client.connect(assistant.url, headers={"Origin": origin}, transports=["polling"],
                             socketio_path="/socket.io")
        try:
            await client.emit("session_request", {})
            await asyncio.wait_for(confirmed.wait(), 10)
            started = time.monotonic()
            await client.emit("user_uttered", {"message": REPORT})
            while _payload(received) is None and time.monotonic() - started < LIMIT_SECONDS + 3:
                await asyncio.sleep(0.02)
            elapsed = time.monotonic() - started
        finally:
            await disconnect(client)
        return session["id"], elapsed, " ".join(m.get("text") or "" for m in received), _payload(received)

    return asyncio.run(chat())


CHANNELS = {"rest": _by_rest, "sms": _by_sms, "webchat": _by_web_chat}


def _check_every_channel(assistant):
    senders = []
    for channel, send in CHANNELS.items():
        sender, elapsed, said, payload = send(assistant)
        assert payload is not None, (channel, said)
        assert elapsed < LIMIT_SECONDS, (channel, elapsed)
        assert "911" in said and "don't drive yourself" in said, (channel, said)
        assert len(_escalations_of(assistant, sender)) == 1, channel
        if channel != "sms":
            assert payload["tier"] == "emergency" and payload["reference"], channel
        senders.append(sender)
    return senders


@pytest.mark.parametrize("fault", ["paused", "killed"])
def test_a_red_flag_never_waits_on_the_action_server(notifying_assistant, fault):
    action_server = notifying_assistant.action_server
    if fault == "paused":
        action_server.send_signal(signal.SIGSTOP)
    else:
        action_server.send_signal(signal.SIGCONT)
        action_server.kill()
        action_server.wait()
    try:
        senders = _check_every_channel(notifying_assistant)
    finally:
        if fault == "paused":
            action_server.send_signal(signal.SIGCONT)
    time.sleep(2)  # whatever the action server had queued is answered now
    for sender in senders:
        assert len(_escalations_of(notifying_assistant, sender)) == 1, sender


def test_with_a_target_the_patient_is_told_the_clinic_was_alerted(notifying_assistant):
    _, _, said, payload = _by_rest(notifying_assistant)
    assert "I've alerted" in said and payload["reference"] in said


def test_without_a_target_the_patient_is_told_to_call_the_clinic_themselves(assistant):
    _, _, said, payload = _by_rest(assistant)
    assert "alerted" not in said and "let the clinic know" not in said
    assert "yourself" in said and payload["reference"] in said and json.dumps(payload)
