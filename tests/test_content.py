"""Every answer is traceable to the sources, in our own words, without page debris or clinic details."""
import itertools
import re
import string

import pytest
from conftest import ROOT, SHARED, load_yaml
from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.shared.core.domain import Domain

MAPPING = load_yaml(ROOT / "content/answer_sources.yml")
DOMAIN = load_yaml(ROOT / "domain.yml")
RESPONSES = DOMAIN["responses"]
CLINIC = load_yaml(ROOT / "clinic/settings.yml")


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _source(doc: str) -> str:
    return _normalise((SHARED / "sources" / MAPPING["documents"][doc]).read_text(encoding="utf-8"))


def _texts(name):
    return [variation.get("text", "") for variation in RESPONSES[name]]


def _condition(variant) -> dict:
    return {c["name"]: c["value"] for c in variant.get("condition") or []}


def _language(variant) -> str:
    """English unless the variant is conditioned on another language (English defaults have none)."""
    return _condition(variant).get("language", "en")


def test_every_response_is_mapped_or_declared_unsourced():
    mapped = set(MAPPING["answers"]) | set(MAPPING["not_sourced"])
    assert set(RESPONSES) - mapped == set(), "responses with no source mapping"
    assert mapped - set(RESPONSES) == set(), "mappings for responses that no longer exist"
    assert not set(MAPPING["answers"]) & set(MAPPING["not_sourced"])


@pytest.mark.parametrize("name", sorted(MAPPING["answers"]))
def test_each_passage_is_in_its_source(name):
    passages = MAPPING["answers"][name]
    assert passages, f"{name} maps to no passage"
    for p in passages:
        assert _normalise(p["passage"]) in _source(p["doc"]), f"{name}: not in {p['doc']}: {p['passage']!r}"


# Page debris and marketing claims from the source pages: never to be repeated.
FORBIDDEN = ["melville", "palo alto", "831", "@", "richard", "mywebinsurances", "cookie", "safe and effective",
             "radiant", "youthful", "beautiful", "work inquiries", "get in touch"]


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_no_debris_or_marketing(name):
    for text in _texts(name):
        lowered = text.lower()
        assert not [w for w in FORBIDDEN if w in lowered], f"{name}: {text}"


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_clinic_details_come_from_settings_not_responses(name):
    for text in _texts(name):
        assert CLINIC["clinic_name"] not in text and CLINIC["clinic_phone"] not in text, name
        assert not re.search(r"\b9-?1-?1\b|\(\d{3}\)|\d{3}[-. ]\d{4}", text), f"{name} hard-codes a number: {text}"


def test_answers_are_paraphrased_not_copied():
    """No answer carries over a run of 12 words from a source (short facts may match)."""
    sources = " ".join(_source(doc).lower() for doc in MAPPING["documents"])
    for name in MAPPING["answers"]:
        for text in _texts(name):
            words = re.findall(r"[a-z0-9']+", text.lower())
            for i in range(len(words) - 11):
                run = " ".join(words[i:i + 12])
                assert run not in re.sub(r"[^a-z0-9' ]", "", sources), f"{name} copies: {run!r}"


@pytest.mark.parametrize("name,language,facts", [
    # Where the documents differ, each variant states its own treatment's fact.
    ("utter_results_duration", "en", {"medical": "three to four months", "cosmetic": "up to three months or more"}),
    ("utter_results_onset", "en", {"medical": "one to two weeks", "cosmetic": "about two weeks"}),
    ("utter_results_duration", "es", {"medical": "tres a cuatro meses", "cosmetic": "hasta tres meses o más"}),
    ("utter_results_onset", "es", {"medical": "una a dos semanas", "cosmetic": "unas dos semanas"}),
])
def test_medical_and_cosmetic_variants_keep_their_own_facts(name, language, facts):
    variants = [v for v in RESPONSES[name] if _language(v) == language]
    by_type = {_condition(v).get("treatment_type"): v["text"] for v in variants}
    default = by_type.pop(None)  # English: the unconditioned default; Spanish: treatment_type null
    for treatment, fact in facts.items():
        assert fact in by_type[treatment]
        assert fact in default
    assert facts["cosmetic"] not in by_type["medical"] and facts["medical"] not in by_type["cosmetic"]


def test_safety_net_in_side_effect_answers():
    for name in ("utter_side_effects", "utter_mild_side_effect"):
        assert all("{emergency_number}" in t for t in _texts(name)), name


def test_conditional_variants_of_a_response_never_match_together(domain):
    """Rasa chooses at random among all matching conditional variants, so two that can match at
    once (no slot on which their conditions disagree) would make the answer a coin toss. The one
    intended coin toss: where a response has several unconditioned English alternatives (utter_greet),
    its other languages may have as many alternatives conditioned on the language alone."""
    overlapping = []
    for name, variants in domain["responses"].items():
        conditional = [v for v in variants if v.get("condition")]
        for i, first in enumerate(conditional):
            for second in conditional[i + 1:]:
                if first.get("channel") != second.get("channel"):
                    continue
                a = {c["name"]: c["value"] for c in first["condition"]}
                b = {c["name"]: c["value"] for c in second["condition"]}
                if not any(a[slot] != b[slot] for slot in a.keys() & b.keys()):
                    if a == b and set(a) == {"language"} and _alternatives(variants, a, first.get("channel")):
                        continue
                    overlapping.append((name, a, b))
    assert overlapping == []


def _alternatives(variants, language_only: dict, channel) -> bool:
    same = [v for v in variants if _condition(v) == language_only and v.get("channel") == channel]
    defaults = [v for v in variants if not v.get("condition") and v.get("channel") == channel]
    return 1 < len(same) <= len(defaults)


# --- Spanish: every response, in every state that has an English answer --------------------------------

CHANNELS = [None, "twilio", "socketio", "rest"]
TREATMENT_TYPES = [None, "medical", "cosmetic"]


@pytest.fixture(scope="module")
def variation_filter():
    # Rasa's own loading and selection (rasa.core.nlg.generator), as the running assistant does it.
    return ResponseVariationFilter(Domain.load(ROOT / "domain.yml").responses)


def _states(name):
    """Every channel x treatment type x value of any other slot the response's conditions name (each
    value a condition uses, and unset)."""
    other = {}
    for variant in RESPONSES[name]:
        for slot, value in _condition(variant).items():
            if slot not in ("language", "treatment_type"):
                other.setdefault(slot, {None}).add(value)
    slots = sorted(other)
    for channel, treatment, values in itertools.product(
            CHANNELS, TREATMENT_TYPES, itertools.product(*(sorted(other[s], key=repr) for s in slots))):
        yield channel, {"treatment_type": treatment, **dict(zip(slots, values))}


def _chosen(variation_filter, name, channel, slots, language):
    return variation_filter.responses_for_utter_action(name, channel, {**slots, "language": language})


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_answers_in_spanish_wherever_it_answers_in_english(variation_filter, name):
    """With language es, every variant Rasa could pick is a Spanish one; with en, none is."""
    missing = []
    for channel, slots in _states(name):
        english = _chosen(variation_filter, name, channel, slots, "en")
        spanish = _chosen(variation_filter, name, channel, slots, "es")
        assert english and all(_language(v) == "en" for v in english), (channel, slots, english)
        if not spanish or any(_language(v) != "es" for v in spanish):
            missing.append((channel, slots))
    assert missing == [], f"{name}: no Spanish-only choice in {len(missing)} states, e.g. {missing[:3]}"


def _payloads(variant) -> tuple:
    return tuple(button["payload"] for button in variant.get("buttons") or [])


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_spanish_buttons_have_the_english_payloads_in_the_same_order(variation_filter, name):
    for channel, slots in _states(name):
        english = {_payloads(v) for v in _chosen(variation_filter, name, channel, slots, "en")}
        spanish = {_payloads(v) for v in _chosen(variation_filter, name, channel, slots, "es")}
        assert spanish == english, (name, channel, slots)


def _placeholders_and_custom(variant) -> tuple:
    names = {field for _, field, _, _ in string.Formatter().parse(variant.get("text", "")) if field}
    return tuple(sorted(names)), repr(variant.get("custom"))


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_spanish_variants_keep_the_english_placeholders_and_custom_payloads(variation_filter, name):
    """Same clinic details ({clinic_name}, {clinic_phone}, {emergency_number}, ...) and the same
    payload for the widget (the escalation banner's tier and reference, the transcript deletion)."""
    for channel, slots in _states(name):
        english = {_placeholders_and_custom(v) for v in _chosen(variation_filter, name, channel, slots, "en")}
        spanish = {_placeholders_and_custom(v) for v in _chosen(variation_filter, name, channel, slots, "es")}
        assert spanish == english, (name, channel, slots)


def test_the_sms_welcome_fits_one_segment_in_every_language():
    from channels.sms_format import segments

    clinic = {"clinic_name": CLINIC["clinic_name"], "emergency_number": "911"}
    by_sms = [v for v in RESPONSES["utter_welcome"] if v.get("channel") == "twilio"]
    assert {_language(v) for v in by_sms} == {"en", "es"}
    for variant in by_sms:
        assert segments(variant["text"].format(**clinic)) == 1, variant["text"]
