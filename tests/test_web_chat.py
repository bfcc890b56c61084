"""The website chat widget: the Socket.IO channel with a Socket.IO client, then the real widget in
headless Chromium (Debian's), with screenshots kept in results/screenshots/."""
import asyncio
import urllib.error
import urllib.request

import pytest
import socketio
from conftest import SCREENSHOTS
from socket_client import disconnect


async def _socket(assistant, session_id=None, origin=None):
    client = socketio.AsyncClient(reconnection=False)
    replies, confirmed, errors = asyncio.Queue(), asyncio.get_running_loop().create_future(), asyncio.Queue()
    client.on("bot_uttered", lambda data: replies.put_nowait(data))
    client.on("error_message", lambda data: errors.put_nowait(data))
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    origin = origin or assistant.demo_page_url.rstrip("/")
    # Long-polling: engine.io-client's websocket transport needs a newer aiohttp than Rasa pins.
    await client.connect(assistant.url, headers={"Origin": origin}, transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    return client, await asyncio.wait_for(confirmed, 10), replies, errors


async def _ask(client, replies, text, *, until=lambda r: "text" in r):
    await client.emit("user_uttered", {"message": text})
    got = []
    while not got or not until(got[-1]):
        got.append(await asyncio.wait_for(replies.get(), 30))
    return got


def test_replies_arrive_with_a_persistent_session_and_survive_a_reconnect(assistant):
    async def scenario():
        client, session_id, replies, _ = await _socket(assistant)
        # Until the answer, not the welcome before it: a later reply would reach the next socket.
        await _ask(client, replies, "it's for my chronic migraine", until=lambda r: "medical Botox" in r.get("text", ""))
        await disconnect(client)
        # A page reload: a new socket asks for the same session and the context is still there.
        client, again, replies, _ = await _socket(assistant, session_id)
        got = await _ask(client, replies, "how long does it last")
        await disconnect(client)
        return session_id, again, " ".join(r.get("text", "") for r in got)

    session_id, again, text = asyncio.run(scenario())
    assert again == session_id
    assert "three to four months" in text and "up to three months" not in text


def test_escalation_reaches_the_widget_as_a_custom_payload(assistant):
    async def scenario():
        client, _, replies, _ = await _socket(assistant)
        got = await _ask(client, replies, "my lips and tongue are swelling up", until=lambda r: "custom" in r)
        await disconnect(client)
        return got

    payload = asyncio.run(scenario())[-1]["custom"]
    assert payload["type"] == "escalation" and payload["tier"] == "emergency"
    assert assistant.escalations.get(payload["reference"]).channel == "webchat"


@pytest.mark.parametrize("bad", [None, "a string", {"message": ""}, {"message": 7}, {"message": "x" * 6000}])
def test_malformed_messages_get_an_error_event_and_the_socket_keeps_working(assistant, bad):
    async def scenario():
        client, _, replies, errors = await _socket(assistant)
        await client.emit("user_uttered", bad)
        error = await asyncio.wait_for(errors.get(), 10)
        await client.emit("no_such_event", {"x": 1})  # unknown events are ignored
        got = await _ask(client, replies, "what is botox", until=lambda r: "neuromodulator" in r.get("text", ""))
        await disconnect(client)
        return error, got

    error, got = asyncio.run(scenario())
    assert error["message"] and "neuromodulator" in got[-1]["text"]


def test_a_page_from_another_origin_cannot_connect(assistant):
    async def scenario():
        with pytest.raises(socketio.exceptions.ConnectionError):
            await _socket(assistant, origin="https://evil.example")

    asyncio.run(scenario())
    request = urllib.request.Request(assistant.url + "/socket.io/?EIO=4&transport=polling",
                                     headers={"Origin": "https://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400


def _bot_texts(page):
    return page.locator(".bx-bot").all_inner_texts()


def test_the_widget_in_a_real_browser(assistant, browser):
    page = browser.new_page(viewport={"width": 360, "height": 740})
    page.goto(assistant.demo_page_url)

    # Keyboard only: Tab to the launcher, open it, type, send with Enter.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "bx-launch"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "bx-input"
    page.keyboard.type("does it hurt?")
    page.keyboard.press("Enter")
    page.wait_for_function("[...document.querySelectorAll('.bx-bot')].some(e => e.innerText.includes('pinch'))",
                           timeout=30000)
    assert page.locator(".bx-log").get_attribute("aria-live") == "polite"
    page.screenshot(path=str(SCREENSHOTS / "1-answer.png"))

    # Quick replies render as buttons, and a button answers (the question again, for cosmetic).
    page.keyboard.type("how long do results last")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Cosmetic").last.click(timeout=30000)
    page.wait_for_function("[...document.querySelectorAll('.bx-bot')].some(e => e.innerText.includes('Cosmetic results last'))",
                           timeout=30000)

    # A red flag pins a banner with a tap-to-call link, which later messages do not push away.
    page.keyboard.type("i cant breathe properly")
    page.keyboard.press("Enter")
    banner = page.locator(".bx-banner")
    banner.wait_for(state="visible", timeout=30000)
    assert banner.get_attribute("role") == "alert"
    assert page.locator(".bx-banner a").get_attribute("href") == "tel:911"
    reference = banner.inner_text().split("Reference ")[-1].strip()
    stored = assistant.escalations.get(reference)
    assert stored and stored.channel == "webchat", banner.inner_text()  # the banner names the stored record
    page.keyboard.type("what is botox")
    page.keyboard.press("Enter")
    page.wait_for_function("[...document.querySelectorAll('.bx-bot')].some(e => e.innerText.includes('neuromodulator'))",
                           timeout=30000)
    box = banner.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= 740 and banner.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "2-emergency-banner.png"))

    # Reload: the history, the banner and the conversation's context are all still there.
    before = _bot_texts(page)
    page.reload()
    page.locator(".bx-banner").wait_for(state="visible", timeout=30000)
    assert _bot_texts(page) == before
    page.screenshot(path=str(SCREENSHOTS / "3-after-reload.png"))

    # Focus order through the open widget: close, the banner's call link, the conversation, its
    # buttons, then the input and Send. Escape closes and returns focus to the launcher.
    page.locator(".bx-close").focus()
    order = []
    while len(order) < 20 and (not order or order[-1] != "Send"):
        order.append(page.evaluate("document.activeElement.getAttribute('aria-label') "
                                   "|| document.activeElement.id || document.activeElement.textContent"))
        page.keyboard.press("Tab")
    assert order[:3] == ["Close chat", "Call 911", "Conversation"]
    assert order[-2:] == ["bx-input", "Send"]
    page.keyboard.press("Shift+Tab")  # back from the launcher into the panel
    page.keyboard.press("Escape")
    assert page.locator(".bx-panel").is_hidden()
    assert page.evaluate("document.activeElement.className") == "bx-launch"

    # "Forget me": after the confirmation the transcript is gone from the page and from the
    # browser's storage too; the emergency banner stays.
    page.keyboard.press("Enter")
    page.keyboard.type("please delete my data")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Yes, delete it").last.click(timeout=30000)
    page.wait_for_function("[...document.querySelectorAll('.bx-bot')].some(e => e.innerText.includes('has been deleted'))",
                           timeout=30000)
    page.wait_for_function("!document.querySelector('.bx-log').innerText.includes('neuromodulator')", timeout=10000)
    stored = page.evaluate("JSON.stringify(sessionStorage)")
    assert "pinch" not in stored and "breathe" not in stored and "has been deleted" in stored
    assert page.locator(".bx-banner").is_visible()
    page.reload()
    assert "pinch" not in page.locator(".bx-log").inner_text()
    page.close()
