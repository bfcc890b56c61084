"""SMS through our Twilio channel, driven the way Twilio drives it: signed form posts in, replies out
through a loopback stand-in for Twilio's Messages API."""
import asyncio
import itertools
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa
from conftest import eventually
from receivers import TwilioApiStandIn
from twilio.request_validator import RequestValidator

from botox_clinic import messages, records
from botox_clinic.language import LANGUAGES
from botox_clinic.sms_state import SmsState
from channels import twilio_sms
from channels.sms_format import MAX_SEGMENTS, segments

CLINIC_NUMBER = "+15550109999"
_phones = itertools.count(100)


@pytest.fixture
def phone():
    return f"+1555020{next(_phones):04d}"


def post(assistant, form, *, signature=None, content_type="application/x-www-form-urlencoded"):
    body = urllib.parse.urlencode(form).encode()
    if signature is None:
        signature = RequestValidator(assistant.twilio_auth_token).compute_signature(assistant.sms_webhook_url, form)
    request = urllib.request.Request(assistant.url + "/webhooks/twilio/webhook", data=body, headers={
        "Content-Type": content_type, "X-Twilio-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def text(assistant, phone, body, **extra):
    return post(assistant, {"From": phone, "To": CLINIC_NUMBER, "Body": body, "MessageSid": "SM" + "0" * 32,
                            "AccountSid": assistant.twilio.account_sid, "NumMedia": "0", **extra})


def sent_to(assistant, phone):
    return [m["Body"] for m in assistant.twilio.messages if m["To"] == phone]


def wait_for(assistant, phone, *needles, timeout=30.0):
    """The SMS bodies sent to `phone`, once every needle has appeared in them (or the timeout passed)."""
    eventually(lambda: all(n in "\n".join(sent_to(assistant, phone)) for n in needles), timeout)
    return sent_to(assistant, phone)


def test_a_question_is_answered_by_sms_in_plain_text(assistant, phone):
    status, twiml = text(assistant, phone, "wat is botox")
    assert status == 200 and "<Response>" in twiml
    bodies = wait_for(assistant, phone, "neuromodulator")
    assert "not medical advice" in bodies[0]  # the SMS disclaimer opens the conversation
    assert "neuromodulator" in "\n".join(bodies)
    assert {m["From"] for m in assistant.twilio.messages if m["To"] == phone} == {CLINIC_NUMBER}


def test_every_reply_is_plain_and_at_most_three_segments(assistant, phone):
    for question in ("what happens during the procedure", "aftercare?", "what are the side effects"):
        text(assistant, phone, question)
    bodies = wait_for(assistant, phone, "antiseptic", "24 hours", "bruising")
    assert len(bodies) >= 3
    for body in bodies:
        assert segments(body) <= MAX_SEGMENTS, body
        assert "**" not in body and "/ask_" not in body and "{" not in body


def test_buttons_become_numbered_options_and_a_number_picks_one(assistant, phone):
    text(assistant, phone, "how long does it last")
    offer = "\n".join(wait_for(assistant, phone, "Reply with a number"))
    assert "Reply with a number:\n1 Medical\n2 Cosmetic" in offer and "inform_treatment" not in offer
    text(assistant, phone, "2")  # the question is answered again, for cosmetic treatment
    answer = wait_for(assistant, phone, "Cosmetic results last")[-1]
    assert "Cosmetic results last" in answer and "medical" not in answer.lower()


def test_replies_keep_the_order_of_the_questions(assistant, phone):
    for question in ("does it hurt", "will i be awake", "how much does it cost"):
        text(assistant, phone, question)
    joined = "\n".join(wait_for(assistant, phone, "pinch", "awake and alert", "quote prices"))
    assert joined.index("pinch") < joined.index("awake and alert") < joined.index("quote prices")


def test_a_red_flag_by_sms_escalates_with_the_number(assistant, phone):
    text(assistant, phone, "i cant breathe properly since the injections")
    assert "Call 911 now" in "\n".join(wait_for(assistant, phone, "Call 911 now"))
    [(escalation, _)] = [(e, d) for e, d in assistant.escalations.list() if e.sender_id == phone]
    assert escalation.channel == "twilio" and escalation.tier == "emergency"


def test_a_message_without_text_gets_a_polite_reply(assistant, phone):
    status, _ = post(assistant, {"From": phone, "To": CLINIC_NUMBER, "NumMedia": "1",
                                 "MediaUrl0": "https://api.twilio.com/media/1", "MediaContentType0": "image/jpeg"})
    assert status == 200
    assert wait_for(assistant, phone, "only read text")


def test_stop_is_recorded_and_silences_everything_until_start(assistant, phone):
    text(assistant, phone, "Stop")
    [confirmation] = wait_for(assistant, phone, "unsubscribed")
    assert "START" in confirmation
    assert SmsState(assistant.records_db_url).is_opted_out(phone)
    text(assistant, phone, "what is botox")
    text(assistant, phone, "HELP")  # HELP is always answered, opted out or not
    assert wait_for(assistant, phone, "Demo Botox Clinic")
    time.sleep(1)  # a suppressed answer would have been sent before HELP's
    assert len(sent_to(assistant, phone)) == 2 and "neuromodulator" not in "\n".join(sent_to(assistant, phone))
    text(assistant, phone, "start")
    text(assistant, phone, "what is botox")
    joined = "\n".join(wait_for(assistant, phone, "subscribed to", "neuromodulator"))
    assert joined.index("subscribed to") < joined.index("neuromodulator")


def test_a_spanish_stop_is_recorded_and_answered_in_spanish(assistant, phone):
    text(assistant, phone, "Parar")
    [confirmation] = wait_for(assistant, phone, "Se dio de baja")
    assert "START" in confirmation
    assert SmsState(assistant.records_db_url).is_opted_out(phone)
    text(assistant, phone, "ayuda")
    assert "Asistente automatizado" in "\n".join(wait_for(assistant, phone, "Asistente automatizado"))


@pytest.mark.parametrize("signature", ["", "forged0000000000000000000000="])
def test_unsigned_or_forged_requests_are_refused(assistant, phone, signature):
    status, _ = post(assistant, {"From": phone, "Body": "hi"}, signature=signature)
    assert status == 403
    time.sleep(0.5)
    assert sent_to(assistant, phone) == []


def test_a_signature_for_other_content_is_refused(assistant, phone):
    genuine = RequestValidator(assistant.twilio_auth_token).compute_signature(
        assistant.sms_webhook_url, {"From": phone, "Body": "hi"})
    assert post(assistant, {"From": phone, "Body": "i can't breathe"}, signature=genuine)[0] == 403


@pytest.mark.parametrize("content_type,status", [("application/json", 415), ("text/plain", 415)])
def test_wrong_content_type_is_refused(assistant, phone, content_type, status):
    assert post(assistant, {"From": phone, "Body": "hi"}, content_type=content_type)[0] == status


def test_a_request_without_a_sender_is_refused(assistant):
    assert post(assistant, {"Body": "hello", "To": CLINIC_NUMBER})[0] == 400


# --- Keywords, in English and Spanish (clinic/sms_keywords.yml), without the assistant running ----------

@pytest.mark.parametrize("body,expected", [
    ("STOP", ("STOP", "opt_out", "en")), ("stop", ("STOP", "opt_out", "en")), (" Cancel. ", ("CANCEL", "opt_out", "en")),
    ("PARAR", ("PARAR", "opt_out", "es")), ("parar", ("PARAR", "opt_out", "es")), ("¡Alto!", ("ALTO", "opt_out", "es")),
    ("Bája", ("BAJA", "opt_out", "es")), ("cancelar", ("CANCELAR", "opt_out", "es")), ("Salir", ("SALIR", "opt_out", "es")),
    ("Detener", ("DETENER", "opt_out", "es")), ("Iniciar", ("INICIAR", "opt_in", "es")), ("comenzar", ("COMENZAR", "opt_in", "es")),
    ("ALTA", ("ALTA", "opt_in", "es")), ("Reanudar", ("REANUDAR", "opt_in", "es")), ("start", ("START", "opt_in", "en")),
    ("AYUDA", ("AYUDA", "help", "es")), ("ayuda", ("AYUDA", "help", "es")), ("Ayúda", ("AYUDA", "help", "es")),
    ("HELP", ("HELP", "help", "en")),
    # Not a keyword: another word, or more than the word.
    ("Ayúdame", None), ("para", None), ("stop please", None), ("por favor parar", None), ("", None),
])
def test_a_keyword_is_the_whole_message_in_any_case_with_or_without_accents(body, expected):
    assert twilio_sms.keyword(body) == (twilio_sms.Keyword(*expected) if expected else None)


def test_the_keyword_file_has_twilios_defaults_and_the_spanish_keywords():
    by_language = {}
    for word, found in twilio_sms.keywords().items():
        assert found.word == word and len(word) <= records.sms_opt_outs.c.keyword.type.length
        by_language.setdefault(found.language, {}).setdefault(found.kind, set()).add(word)
    assert set(by_language) == set(LANGUAGES)
    assert by_language["en"] == {"opt_out": {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"},
                                 "opt_in": {"START", "UNSTOP", "YES"}, "help": {"HELP", "INFO"}}
    assert by_language["es"] == {"opt_out": {"PARAR", "DETENER", "ALTO", "BAJA", "CANCELAR", "SALIR"},
                                 "opt_in": {"INICIAR", "COMENZAR", "ALTA", "REANUDAR"}, "help": {"AYUDA"}}


def test_a_keyword_in_two_languages_or_an_unquoted_yes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(twilio_sms, "KEYWORDS_FILE", tmp_path / "keywords.yml")
    try:
        for bad in ("en: {opt_out: [STOP]}\nes: {opt_out: [STOP]}\n", "en: {opt_in: [YES]}\n",
                    "en: {opt_out: [Stop]}\n", "fr: {opt_out: [ARRET]}\n"):
            (tmp_path / "keywords.yml").write_text(bad)
            twilio_sms.keywords.cache_clear()
            with pytest.raises(ValueError):
                twilio_sms.keywords()
    finally:
        twilio_sms.keywords.cache_clear()


@pytest.fixture
def sms_channel(settings, monkeypatch):
    """The SMS channel as Rasa builds it, sending to a loopback stand-in for Twilio's API."""
    twilio = TwilioApiStandIn("AC" + "2" * 32, "test-twilio-token")
    for name, value in {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
                        "TWILIO_FROM_NUMBER": CLINIC_NUMBER, "TWILIO_API_BASE": twilio.url}.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    channel = twilio_sms.SmsInput(settings())
    yield channel, twilio
    twilio.close()


def _exchange(channel, phone, *bodies):
    """Each body handled as the webhook would, after the replies to the one before have gone out;
    what the assistant was asked."""
    asked = []

    async def assistant(message):
        asked.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "Botox is a neuromodulator.")

    async def run():
        for body in bodies:
            await channel._handle(phone, body, assistant)
            await channel.sender.drain()
        await channel.sender._twilio.close()

    asyncio.run(run())
    return asked


def test_a_spanish_keyword_is_acted_on_and_answered_in_spanish(sms_channel, settings):
    channel, twilio = sms_channel
    clinic = settings().clinic
    phone = "+15550209001"
    asked = _exchange(channel, phone, "Parar", "what is botox", "AYUDA", "Iniciar", "what is botox")
    assert [m["Body"] for m in twilio.messages] == [
        messages.text("sms.opted_out", "es", clinic=clinic),
        messages.text("sms.help", "es", clinic=clinic),  # help is answered, opted out or not
        messages.text("sms.opted_in", "es", clinic=clinic),
        "Botox is a neuromodulator.",
    ]
    assert asked == ["what is botox", "what is botox"]  # the first answer was suppressed, not sent
    assert not SmsState(settings().records_db_url).is_opted_out(phone)


def test_a_spanish_opt_out_is_stored_durably_with_its_keyword(sms_channel, settings):
    channel, twilio = sms_channel
    _exchange(channel, "+15550209002", "¡Baja!")
    # A new store on the same database (another replica, a restart) sees it, and which word it was.
    assert SmsState(settings().records_db_url).is_opted_out("+15550209002")
    with records.engine(settings().records_db_url).connect() as conn:
        stored = conn.execute(sa.select(records.sms_opt_outs.c.keyword).where(
            records.sms_opt_outs.c.phone == "+15550209002")).scalar_one()
    assert stored == "BAJA" and twilio_sms.keywords()[stored].language == "es"


def test_an_english_keyword_is_answered_in_english(sms_channel, settings):
    channel, twilio = sms_channel
    clinic = settings().clinic
    _exchange(channel, "+15550209003", "stop", "Help", "START")
    assert [m["Body"] for m in twilio.messages] == [messages.text(key, "en", clinic=clinic)
                                                    for key in ("sms.opted_out", "sms.help", "sms.opted_in")]
