"""SMS formatting: billing segments, plain text, numbered options, splitting."""
import pytest
from conftest import ROOT, load_yaml

from channels.sms_format import MAX_SEGMENTS, format_reply, plain_text, segments, split_messages

CLINIC = {"clinic_name": "Demo Botox Clinic", "clinic_phone": "(555) 010-0199", "emergency_number": "911",
          "escalation_reference": "E-ABCDEFGH"}


@pytest.mark.parametrize("text,expected", [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("é" * 160, 1),  # in the GSM-7 alphabet
    ("€" * 80, 1), ("€" * 81, 2),  # extension characters take two septets
    ("ą" * 70, 1), ("ą" * 71, 2),  # outside GSM-7: UCS-2, 70 then 67 per segment
])
def test_segments_are_counted_as_twilio_bills_them(text, expected):
    assert segments(text) == expected


def test_markdown_links_and_typography_become_plain_gsm_text():
    assert plain_text("**Don’t** rub it — see [aftercare](https://x.org/a)") == "Don't rub it - see aftercare (https://x.org/a)"


def test_buttons_become_numbered_options_with_their_payloads():
    reply = format_reply([{"text": "Medical or cosmetic?", "buttons": [
        {"title": "Medical", "payload": '/inform_treatment{"treatment_type": "medical"}'},
        {"title": "Cosmetic", "payload": '/inform_treatment{"treatment_type": "cosmetic"}'}]},
        {"custom": {"type": "escalation"}}])
    assert reply.messages == ["Medical or cosmetic?\n\nReply with a number:\n1 Medical\n2 Cosmetic"]
    assert reply.choices["2"] == '/inform_treatment{"treatment_type": "cosmetic"}'


@pytest.mark.parametrize("text", [
    "One sentence. " * 80, "word " * 600, "x" * 3000, "😀" * 500, "First paragraph.\n\n" + "Second one. " * 60])
def test_long_text_is_split_into_messages_of_at_most_three_segments_losing_nothing(text):
    messages = split_messages(text)
    assert len(messages) > 1 and all(segments(m) <= MAX_SEGMENTS for m in messages)
    assert "".join(messages).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


def test_every_response_fits_one_message_by_sms():
    oversized = []
    for name, variants in load_yaml(ROOT / "domain.yml")["responses"].items():
        for variant in variants:
            text = plain_text(variant.get("text", "").format(**CLINIC))
            if segments(text) > MAX_SEGMENTS:
                oversized.append((name, segments(text)))
    assert oversized == []
