"""SMS through our Twilio channel, driven the way Twilio drives it: signed form posts in, replies out
through a loopback stand-in for Twilio's Messages API."""
import itertools
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from twilio.request_validator import RequestValidator

from botox_clinic.sms_state import SmsState
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
    deadline = time.time() + timeout
    while True:
        bodies = sent_to(assistant, phone)
        if all(n in "\n".join(bodies) for n in needles) or time.time() > deadline:
            return bodies
        time.sleep(0.05)


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
