"""Training data checks: generalisation hygiene and that every intent is answered."""
import re

from conftest import ROOT, SHARED, load_yaml

from botox_clinic.red_flag_corpus import nlu_examples

NLU_FILES = sorted((ROOT / "data/nlu").glob("*.yml"))
RULES = load_yaml(ROOT / "data/rules.yml")["rules"]


def _examples():
    return ((intent, text) for intent, _, text in nlu_examples(ROOT / "data/nlu"))


def _normalise(text):
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def test_no_evaluation_sentence_is_in_the_training_data():
    dev = load_yaml(SHARED / "eval/dev_questions.yml")
    eval_texts = {q for t in dev["topics"].values() for q in t["cases"]}
    eval_texts |= {c["text"] for c in dev.get("red_flags") or []}
    eval_texts |= {turn for c in dev.get("conversations") or [] for turn in c["turns"]}
    training = {_normalise(text) for _, text in _examples()}
    leaked = sorted(t for t in eval_texts if _normalise(t) in training and len(t.split()) > 1)
    assert leaked == []


def test_every_intent_has_enough_varied_examples(domain):
    counts = {}
    for intent, _ in _examples():
        counts[intent] = counts.get(intent, 0) + 1
    assert set(domain["intents"]) == set(counts)
    thin = {i: n for i, n in counts.items() if n < 10}
    assert thin == {}


def test_no_example_is_given_twice():
    """A repeat (or a case or punctuation variant, which the featurizers see as the same words)
    weighs one sentence double; under two intents it contradicts itself."""
    seen = {}
    for intent, text in _examples():
        key = _normalise(text)
        assert key not in seen, f"{text!r}: already under {seen[key]}"
        seen[key] = intent


def test_each_intent_is_in_one_topic_file():
    files = {}
    for path in NLU_FILES:
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
