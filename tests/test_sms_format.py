"""SMS formatting: billing segments, plain text, numbered options, splitting."""
import itertools

import pytest
from conftest import ROOT
from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.shared.core.domain import Domain

from botox_clinic import language, messages
from channels.sms_format import MAX_SEGMENTS, format_reply, is_gsm7, plain_text, segments, split_messages

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


def test_spanish_accents_outside_gsm7_are_folded_as_smart_encoding_does():
    text = "¿Cuánto dura? Sí, más o menos: Ángel, Índice, Óscar, Úrsula. ¡Pequeña señal, pingüino, él!"
    assert plain_text(text) == "¿Cuanto dura? Si, mas o menos: Angel, Indice, Oscar, Ursula. ¡Pequeña señal, pingüino, él!"
    assert not is_gsm7(text) and is_gsm7(plain_text(text))
    # 200 characters of Spanish: 3 segments in UCS-2, 2 once folded.
    assert segments("Después de la inyección, evite frotar la zona. " * 4) == 3
    assert segments(plain_text("Después de la inyección, evite frotar la zona. " * 4)) == 2


def test_buttons_become_numbered_options_with_their_payloads():
    reply = format_reply([{"text": "Medical or cosmetic?", "buttons": [
        {"title": "Medical", "payload": '/inform_treatment{"treatment_type": "medical"}'},
        {"title": "Cosmetic", "payload": '/inform_treatment{"treatment_type": "cosmetic"}'}]},
        {"custom": {"type": "escalation"}}])
    assert reply.messages == ["Medical or cosmetic?\n\nReply with a number:\n1 Medical\n2 Cosmetic"]
    assert reply.choices["2"] == '/inform_treatment{"treatment_type": "cosmetic"}'


def test_a_spanish_reply_asks_for_a_number_in_spanish():
    reply = format_reply([{"text": "¿Su tratamiento es para una afección médica o es estético?", "buttons": [
        {"title": "Médico", "payload": '/inform_treatment{"treatment_type": "medical"}'},
        {"title": "Estético", "payload": '/inform_treatment{"treatment_type": "cosmetic"}'}]}])
    assert reply.messages == [
        "¿Su tratamiento es para una afeccion médica o es estético?\n\nResponda con un numero:\n1 Médico\n2 Estético"]
    assert reply.choices["1"] == '/inform_treatment{"treatment_type": "medical"}'


def test_a_reply_not_surely_spanish_asks_in_english(monkeypatch):
    monkeypatch.setattr(language, "detect", lambda text: language.Detection("es", 0.79, 2))
    reply = format_reply([{"text": "¿Sí?", "buttons": [{"title": "Sí", "payload": "/affirm"}]}])
    assert "Reply with a number:\n1 Si" in reply.messages[0]
    monkeypatch.setattr(language, "detect", lambda text: language.Detection("es", 0.8, 2))
    assert "Responda con un numero:\n1 Si" in format_reply([{"text": "¿Sí?", "buttons": [
        {"title": "Sí", "payload": "/affirm"}]}]).messages[0]


@pytest.mark.parametrize("text", [
    "One sentence. " * 80, "word " * 600, "x" * 3000, "😀" * 500, "First paragraph.\n\n" + "Second one. " * 60])
def test_long_text_is_split_into_messages_of_at_most_three_segments_losing_nothing(text):
    messages = split_messages(text)
    assert len(messages) > 1 and all(segments(m) <= MAX_SEGMENTS for m in messages)
    assert "".join(messages).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


def _condition(variant) -> dict:
    return {c["name"]: c["value"] for c in variant.get("condition") or []}


def _states(variants):
    """The slots in every state the variants' conditions tell apart (each value a condition names,
    and unset), in every language."""
    values = {}
    for variant in variants:
        for slot, value in _condition(variant).items():
            if slot != "language":
                values.setdefault(slot, {None}).add(value)
    slots = sorted(values)
    for combination in itertools.product(*(sorted(values[s], key=repr) for s in slots)):
        for spoken in language.LANGUAGES:
            yield {**dict(zip(slots, combination)), "language": spoken}


def test_every_response_fits_one_message_by_sms():
    """In every language, each variant a patient can get by SMS (the one Rasa picks for the twilio
    channel: a `channel: twilio` variant where there is one) goes out as one message of at most
    MAX_SEGMENTS segments, numbered options included, and those are asked for in its language."""
    responses = Domain.load(ROOT / "domain.yml").responses
    variation_filter = ResponseVariationFilter(responses)  # Rasa's own choice, as the server makes it
    oversized, sent = [], set()
    for name, variants in responses.items():
        for slots in _states(variants):
            for variant in variation_filter.responses_for_utter_action(name, "twilio", slots):
                reply = format_reply([{"text": variant.get("text", "").format(**CLINIC),
                                       "buttons": variant.get("buttons")}])
                if len(reply.messages) != 1:
                    oversized.append((name, slots, [segments(m) for m in reply.messages]))
                if variant.get("buttons"):
                    prompt = plain_text(messages.text("sms.reply_with_number", slots["language"]))
                    assert prompt + "\n1 " in reply.messages[-1], (name, slots, reply.messages)
                sent.add((name, id(variant), slots["language"]))
    assert oversized == []
    # Each SMS variant was among those checked, and every language was.
    sms_only = {(name, id(v)) for name, variants in responses.items() for v in variants if v.get("channel") == "twilio"}
    assert sms_only and sms_only <= {(name, variant) for name, variant, _ in sent}
    assert {spoken for _, _, spoken in sent} == set(language.LANGUAGES)

