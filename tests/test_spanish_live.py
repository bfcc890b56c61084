"""The Spanish side, live: the trained model served for real (tests/conftest.py's `assistant`), in
the widget on the Spanish demo page in headless Chromium, by SMS through the Twilio stand-in, and over
REST as ../shared/eval/grade.py talks to it.

What is expected comes from the project's own files, not from sentences copied here: the widget's
labels from content/messages.yml, the replies from domain.yml's variants (condition language: es for
Spanish), the clinic's details from the running assistant's /webhooks/webchat/clinic. A reply is
"Spanish" when it is one of the Spanish variants of the response expected and contains no English
variant of any response. Screenshots go to results/screenshots/es-*.png.
"""
import itertools
import json
import re
import sqlite3
import time
import urllib.request
from functools import lru_cache

import pytest
import sqlalchemy as sa
from conftest import ROOT, SCREENSHOTS, load_yaml
from rest_client import say
from test_twilio_sms import sent_to
from test_twilio_sms import text as sms

from botox_clinic import records
from botox_clinic.sms_state import SmsState
from channels.sms_format import plain_text

_phones = itertools.count(1)


@pytest.fixture
def phone():
    return f"+1555060{next(_phones):04d}"


# --- What is expected, from the project's files ---------------------------------------------------

@lru_cache(maxsize=1)
def _catalogue() -> dict:
    return load_yaml(ROOT / "content/messages.yml")


def label(language: str, key: str, **values) -> str:
    """A widget label (widget.<key>) in `language`, placeholders filled."""
    return _catalogue()[language]["widget." + key].format(**values)


@lru_cache(maxsize=1)
def _responses() -> dict:
    return load_yaml(ROOT / "domain.yml")["responses"]


def _variant_language(variant: dict) -> str:
    # Spanish variants say so; the others are English (the slot's initial value is en).
    return next((c.get("value") for c in variant.get("condition") or [] if c.get("name") == "language"), None) or "en"


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _pattern(template: str, clinic: dict, sms_form: bool) -> re.Pattern:
    """A response's text as a regular expression: the clinic's details filled in, a reference as
    any word; for SMS, as channels/sms_format.py sends it (accents GSM-7 lacks folded)."""
    prepare = plain_text if sms_form else (lambda t: t)
    parts = re.split(r"(\{\w+\})", prepare(_squash(template)))
    regex = ""
    for part in parts:
        name = part[1:-1] if re.fullmatch(r"\{\w+\}", part) else None
        if name in clinic:
            regex += re.escape(prepare(clinic[name]))
        elif name:
            regex += r"\S+?"
        else:
            regex += r"\s+".join(re.escape(word) for word in part.split(" "))
    return re.compile(regex)


def variants(clinic: dict, language: str, *names: str, sms_form: bool = False):
    """(response, channel, pattern) for the variants in `language` of `names` (every response without)."""
    for name, found in _responses().items():
        if names and name not in names:
            continue
        for variant in found:
            if variant.get("text") and _variant_language(variant) == language:
                yield name, variant.get("channel"), _pattern(variant["text"], clinic, sms_form)


def said(reply: str, clinic: dict, language: str, *names: str, sms_form: bool = False) -> list:
    """The responses among `names` whose `language` variant `reply` contains."""
    return sorted({name for name, _, pattern in variants(clinic, language, *names, sms_form=sms_form)
                   if pattern.search(_squash(reply))})


def assert_spanish(reply: str, clinic: dict, *expected: str, sms_form: bool = False, context: str = ""):
    """`reply` is a Spanish variant of one of `expected` and has no English response in it."""
    spanish = said(reply, clinic, "es", *expected, sms_form=sms_form)
    english = said(reply, clinic, "en", sms_form=sms_form)
    assert spanish and not english, (f"expected Spanish {expected}; found Spanish {spanish}, English {english} "
                                     f"in {reply!r}{context}")


def clinic_of(assistant) -> dict:
    """The clinic's details as the running assistant fills them in (what the widget reads too)."""
    with urllib.request.urlopen(assistant.url + "/webhooks/webchat/clinic", timeout=10) as r:
        return json.loads(r.read())


def conversation(assistant, sender_id: str) -> str:
    """The conversation as stored (intents, language slots, bot texts): for failure messages."""
    with sqlite3.connect(assistant.tracker_db) as db:
        rows = db.execute("SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,)).fetchall()
    lines = []
    for type_name, data in rows:
        event = json.loads(data)
        if type_name == "user":
            lines.append(f"  user {event.get('text')!r} intent={(event.get('parse_data') or {}).get('intent', {}).get('name')}")
        elif type_name == "slot" and event.get("name") in ("language", "language_source", "escalation_tier",
                                                           "escalation_recorded", "escalation_notified"):
            lines.append(f"  slot {event['name']}={event.get('value')!r}")
        elif type_name == "bot":
            lines.append(f"  bot {(event.get('text') or '')[:90]!r}")
        elif type_name == "action" and event.get("name") != "action_listen":
            lines.append(f"  action {event.get('name')}")
    return "\nconversation as stored:\n" + "\n".join(lines)


# --- 1. The widget on the Spanish demo page, in a real browser ------------------------------------

def _bot_texts(page):
    return page.locator(".bx-bot").all_inner_texts()


def _send(page, message):
    page.fill("#bx-input", message)
    page.keyboard.press("Enter")


def _wait_for_bot(page, count, timeout=30000):
    """Until there are more than `count` bot messages; the new ones."""
    page.wait_for_function(f"document.querySelectorAll('.bx-bot').length > {count}", timeout=timeout)
    return _bot_texts(page)[count:]


def test_the_widget_on_the_spanish_page(assistant, browser):
    clinic = clinic_of(assistant)
    page = browser.new_page(viewport={"width": 360, "height": 740})
    page.goto(assistant.demo_page_url + "es.html")
    launch = page.locator(".bx-launch")
    launch.wait_for(state="visible", timeout=10000)
    assert launch.inner_text() == label("es", "launch")
    assert page.locator("#bx-input").get_attribute("placeholder") == label("es", "placeholder")
    launch.click()
    assert page.locator(".bx-panel").is_visible()
    assert page.locator("#bx-title").inner_text() == label("es", "title")
    assert page.locator(".bx-form button[type=submit]").inner_text() == label("es", "send")
    page.screenshot(path=str(SCREENSHOTS / "es-1-open.png"))

    # The first message opens the conversation: the welcome, in Spanish, then the answer.
    _send(page, "¿cuánto tiempo dura el efecto del bótox?")
    page.wait_for_function("document.querySelectorAll('.bx-bot').length >= 2", timeout=30000)
    welcome, answer = _bot_texts(page)[:2]
    session = page.evaluate("JSON.parse(sessionStorage.getItem('botox-assistant-chat')).sessionId")
    context = conversation(assistant, session)
    assert "911" in welcome, welcome
    assert_spanish(welcome, clinic, "utter_welcome", context=context)
    assert "mes" in answer, answer
    assert_spanish(answer, clinic, "utter_results_duration", context=context)
    page.screenshot(path=str(SCREENSHOTS / "es-2-answer.png"))

    # A red flag in Spanish: the emergency banner within 2 s, in Spanish, and a Spanish reply with 911.
    before = len(_bot_texts(page))
    _send(page, "no puedo respirar bien y se me cierra la garganta")
    sent_at = time.monotonic()
    banner = page.locator(".bx-banner")
    banner.wait_for(state="visible", timeout=2000)
    took = time.monotonic() - sent_at
    banner_text = banner.inner_text()
    assert label("es", "banner_emergency", **clinic).strip() in banner_text, banner_text
    call = page.locator(".bx-banner a")
    assert call.inner_text() == label("es", "call", number=clinic["emergency_number"])
    assert call.get_attribute("href") == "tel:" + re.sub(r"[^0-9+]", "", clinic["emergency_number"])
    reference = banner_text.split(label("es", "reference", reference=""))[-1].strip()
    stored = assistant.escalations.get(reference)
    assert stored and stored.channel == "webchat" and stored.tier == "emergency", banner_text
    reply = "\n".join(_wait_for_bot(page, before))
    context = conversation(assistant, session)
    assert "911" in reply and reference in reply, reply + context
    assert_spanish(reply, clinic, "utter_escalation", context=context)
    assert took <= 2.0
    page.screenshot(path=str(SCREENSHOTS / "es-3-emergency-banner.png"))
    page.close()


def test_a_spanish_sentence_on_the_english_page_turns_the_widget_to_spanish(assistant, browser):
    clinic = clinic_of(assistant)
    page = browser.new_page(viewport={"width": 360, "height": 740})
    page.goto(assistant.demo_page_url)
    launch = page.locator(".bx-launch")
    launch.wait_for(state="visible", timeout=10000)
    assert launch.inner_text() == label("en", "launch")
    assert page.locator("#bx-input").get_attribute("placeholder") == label("en", "placeholder")
    launch.click()
    _send(page, "hola, quisiera saber cuánto tiempo dura el efecto del bótox")
    placeholder = label("es", "placeholder")
    page.wait_for_function(f"document.getElementById('bx-input').placeholder === {json.dumps(placeholder)}",
                           timeout=30000)
    assert launch.inner_text() == label("es", "launch")
    assert page.locator("#bx-title").inner_text() == label("es", "title")
    assert page.locator(".bx-panel").get_attribute("lang") == "es"
    page.wait_for_function("document.querySelectorAll('.bx-bot').length >= 2", timeout=30000)
    session = page.evaluate("JSON.parse(sessionStorage.getItem('botox-assistant-chat')).sessionId")
    assert_spanish(_bot_texts(page)[-1], clinic, "utter_results_duration", context=conversation(assistant, session))
    page.screenshot(path=str(SCREENSHOTS / "es-4-english-page-turned-spanish.png"))
    page.close()


# --- 2. SMS through the Twilio stand-in -----------------------------------------------------------

def _turn(assistant, phone, body, *, settle=1.5, timeout=30.0) -> list:
    """Text `body`; the messages sent back to `phone` for it, once they have stopped arriving."""
    before = len(sent_to(assistant, phone))
    status, _ = sms(assistant, phone, body)
    assert status == 200
    deadline, last_count, last_change = time.time() + timeout, before, time.time()
    while time.time() < deadline:
        count = len(sent_to(assistant, phone))
        if count != last_count:
            last_count, last_change = count, time.time()
        elif count > before and time.time() - last_change >= settle:
            break
        time.sleep(0.05)
    return sent_to(assistant, phone)[before:]


def _escalations_for(assistant, phone):
    with records.engine(assistant.records_db_url).connect() as conn:
        return conn.execute(sa.select(records.escalations).where(records.escalations.c.sender_id == phone)).fetchall()


def test_a_spanish_conversation_by_sms(assistant, phone):
    clinic = clinic_of(assistant)

    # A new number, in Spanish: the disclaimer and the reply are Spanish.
    replies = _turn(assistant, phone, "hola, tengo una pregunta sobre el botox")
    joined = "\n\n".join(replies)
    context = conversation(assistant, phone)
    assert replies, "no reply" + context
    assert_spanish(joined, clinic, "utter_welcome", sms_form=True, context=context)
    assert said(joined, clinic, "es", sms_form=True) != ["utter_welcome"], "only the welcome: " + joined + context

    replies = _turn(assistant, phone, "¿me va a doler?")
    assert_spanish("\n\n".join(replies), clinic, "utter_sensation", sms_form=True,
                   context=conversation(assistant, phone))

    # An urgent red flag: the clinic's number, today, in Spanish, and one escalation record.
    replies = _turn(assistant, phone, "se me cae el párpado desde ayer y veo doble")
    joined = "\n\n".join(replies)
    context = conversation(assistant, phone)
    assert clinic["clinic_phone"] in joined and "hoy" in joined, joined + context
    assert_spanish(joined, clinic, "utter_escalation", sms_form=True, context=context)
    [escalation] = _escalations_for(assistant, phone)
    assert escalation.tier == "urgent" and escalation.channel == "twilio", escalation
    assert escalation.id in joined, joined  # the reference the patient is given is the stored one

    # PARAR: the Spanish confirmation, and the opt-out stored with its word.
    replies = _turn(assistant, phone, "PARAR")
    assert replies == [plain_text(_catalogue()["es"]["sms.opted_out"].format(**clinic))], replies
    assert SmsState(assistant.records_db_url).is_opted_out(phone)
    with records.engine(assistant.records_db_url).connect() as conn:
        keyword = conn.execute(sa.select(records.sms_opt_outs.c.keyword)
                               .where(records.sms_opt_outs.c.phone == phone)).scalar_one()
    assert keyword == "PARAR"
    assert len(_escalations_for(assistant, phone)) == 1


# --- 3. REST, as ../shared/eval/grade.py talks to it ----------------------------------------------

def _rest(assistant, sender, message) -> str:
    status, replies = say(assistant.url, sender, message)
    assert status == 200, replies
    return "\n\n".join(r.get("text", "") for r in replies if r.get("text"))


def test_a_spanish_question_after_hello_over_rest_and_back_to_english(assistant):
    clinic = clinic_of(assistant)
    sender = "es-live-rest-1"
    _rest(assistant, sender, "hello")
    reply = _rest(assistant, sender, "¿cuánto cuesta el botox?")
    assert_spanish(reply, clinic, "utter_cost", context=conversation(assistant, sender))

    reply = _rest(assistant, sender, "English please")
    assert not said(reply, clinic, "es"), reply + conversation(assistant, sender)
    # The patient's choice stands: even a Spanish question is now answered in English.
    reply = _rest(assistant, sender, "¿me va a doler?")
    context = conversation(assistant, sender)
    assert said(reply, clinic, "en", "utter_sensation") and not said(reply, clinic, "es"), reply + context
