"""Training data checks: generalisation hygiene and that every intent is answered."""
import re

import pytest
from conftest import ROOT, SHARED, load_yaml

from botox_clinic.language import LANGUAGES, fold_accents
from botox_clinic.red_flag_corpus import nlu_examples

RULES = load_yaml(ROOT / "data/rules.yml")["rules"]
# The evaluation sets: the shared one and the team's own (eval/), never in training data.
EVALUATION_SETS = [SHARED / "eval/dev_questions.yml"] + sorted((ROOT / "eval").glob("*.yml"))


def _examples(languages=LANGUAGES):
    return ((intent, text) for language in languages for intent, _, text in nlu_examples(ROOT / "data/nlu", language))


def _normalise(text, fold=True):
    """Lower case, no punctuation; without accents unless fold=False (written with and without
    them, a Spanish example is two spellings the character n-grams tell apart)."""
    text = text.lower()
    return re.sub(r"[^a-z0-9ñáéíóúü ]", "", fold_accents(text) if fold else text).strip()


def test_no_evaluation_sentence_is_in_the_training_data():
    eval_texts = set()
    for path in EVALUATION_SETS:
        dev = load_yaml(path)
        eval_texts |= {q for t in dev["topics"].values() for q in t["cases"]}
        eval_texts |= {c["text"] for c in dev.get("red_flags") or []}
        eval_texts |= {turn for c in dev.get("conversations") or [] for turn in c["turns"]}
    training = {_normalise(text) for _, text in _examples()}
    leaked = sorted(t for t in eval_texts if _normalise(t) in training and len(t.split()) > 1)
    assert leaked == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_intent_has_enough_varied_examples(domain, language):
    counts = {}
    for intent, _ in _examples([language]):
        counts[intent] = counts.get(intent, 0) + 1
    assert set(domain["intents"]) == set(counts)
    thin = {i: n for i, n in counts.items() if n < 10}
    assert thin == {}


def test_no_example_is_given_twice():
    """A repeat (or a case, accent or punctuation variant, which the featurizers see as nearly the
    same words) weighs one sentence double; under two intents it contradicts itself, also across
    languages ("adios" is an English example too)."""
    seen, folded = {}, {}
    for language in LANGUAGES:
        for intent, text in _examples([language]):
            key = (language, _normalise(text, fold=False))
            assert key not in seen, f"{text!r}: already under {seen[key]}"
            seen[key] = intent
            earlier = folded.setdefault(_normalise(text), intent)
            assert earlier == intent, f"{text!r} ({language}): already under {earlier}"


@pytest.mark.parametrize("directory", ["data/nlu", "data/nlu/es"])
def test_each_intent_is_in_one_topic_file(directory):
    files = {}
    for path in sorted((ROOT / directory).glob("*.yml")):
        for block in load_yaml(path)["nlu"]:
            if "intent" in block:
                files.setdefault(block["intent"], []).append(path.name)
    assert {intent: names for intent, names in files.items() if len(names) > 1} == {}


def test_every_intent_is_answered_by_a_rule(domain):
    answered = {step["intent"] for rule in RULES for step in rule["steps"][:1] if "intent" in step}
    assert set(domain["intents"]) - answered == set()


def test_no_slot_mapping_runs_an_action_on_every_message(domain):
    """A custom mapping that names an action makes Rasa run that action during slot extraction
    after every user message: for action_escalate_red_flag, an escalation recorded for "hello"."""
    runs_actions = {name: m["action"] for name, slot in domain["slots"].items()
                    for m in slot.get("mappings", []) if m.get("type") == "custom" and m.get("action")}
    assert runs_actions == {}
