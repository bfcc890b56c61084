"""Every answer is traceable to the sources, in our own words, without page debris or clinic details."""
import re

import pytest
from conftest import ROOT, SHARED, load_yaml

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


@pytest.mark.parametrize("name,facts", [
    # Where the documents differ, each variant states its own treatment's fact.
    ("utter_results_duration", {"medical": "three to four months", "cosmetic": "up to three months or more"}),
    ("utter_results_onset", {"medical": "one to two weeks", "cosmetic": "about two weeks"}),
])
def test_medical_and_cosmetic_variants_keep_their_own_facts(name, facts):
    by_type = {v["condition"][0]["value"]: v["text"] for v in RESPONSES[name] if "condition" in v}
    default = next(v["text"] for v in RESPONSES[name] if "condition" not in v)
    for treatment, fact in facts.items():
        assert fact in by_type[treatment]
        assert fact in default
    assert facts["cosmetic"] not in by_type["medical"] and facts["medical"] not in by_type["cosmetic"]


def test_safety_net_in_side_effect_answers():
    for name in ("utter_side_effects", "utter_mild_side_effect"):
        assert all("{emergency_number}" in t for t in _texts(name)), name


def test_conditional_variants_of_a_response_never_match_together(domain):
    """Rasa chooses at random among all matching conditional variants, so two that can match at
    once (no slot on which their conditions disagree) would make the answer a coin toss."""
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
                    overlapping.append((name, a, b))
    assert overlapping == []
