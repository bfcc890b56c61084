"""The red-flag corpus's split, and how the rules' and the learned detector's verdicts combine."""
import numpy as np
import pytest
from conftest import ROOT, load_yaml

from botox_clinic import red_flag_corpus
from botox_clinic.red_flag_model import ASK, ESCALATE, NOTHING, SAFETY_NET, ReportModel, TextFeatures, Thresholds, Verdict

TIER_RANK = {"urgent": 1, "emergency": 2}


RULES = load_yaml(ROOT / "clinic/red_flags.yml")["categories"]


def _model(**thresholds) -> ReportModel:
    """Decisions only: no weights, the verdicts are given."""
    values = {"report": 0.5, "emergency": 0.5, "ask": 0.2, "veto": 0.1, **thresholds}
    return ReportModel(TextFeatures({}, np.zeros(0), {}, np.zeros(0)), tuple(RULES),
                       {name: cat["label"] for name, cat in RULES.items()},
                       {name: cat["tier"] for name, cat in RULES.items()}, np.zeros((3, 1)), np.zeros(3),
                       np.zeros((len(RULES), 1)), np.zeros(len(RULES)), Thresholds(**values),
                       combinations=load_yaml(ROOT / "clinic/red_flags.yml")["combinations"])


def _verdict(urgent=0.0, emergency=0.0, **categories) -> Verdict:
    return Verdict({"none": 1 - urgent - emergency, "urgent": urgent, "emergency": emergency},
                   {c: categories.get(c, 0.0) for c in RULES})


@pytest.fixture(scope="module")
def corpus():
    return red_flag_corpus.load()


def test_the_corpus_is_large_and_covers_every_category_and_framing(corpus):
    assert len(corpus) >= 1500
    categories = set(load_yaml(ROOT / "clinic/red_flags.yml")["categories"])
    reported = {c for e in corpus if e.is_report for c in e.categories}
    assert categories - reported == set()
    assert {e.framing for e in corpus} >= set(red_flag_corpus.REPORT_FRAMINGS) | set(red_flag_corpus.LOOKALIKE_FRAMINGS)


def test_the_held_out_part_is_fixed_by_group_and_about_a_quarter(corpus):
    training, held_out = red_flag_corpus.split(corpus)
    assert {e.group for e in training}.isdisjoint({e.group for e in held_out})  # variants stay together
    assert 0.2 < len(held_out) / len(corpus) < 0.3
    assert red_flag_corpus.split(corpus) == (training, held_out)


def test_either_detector_escalates_at_the_higher_tier(detector):
    model = _model()
    rules_only = model.decide(detector.assess("my eyelid is drooping"), _verdict(urgent=0.3), TIER_RANK)
    assert (rules_only.action, rules_only.tier) == (ESCALATE, "urgent")
    learned_only = model.decide(detector.assess("something is wrong with my face"),
                                _verdict(emergency=0.8, breathing=0.9), TIER_RANK)
    assert (learned_only.action, learned_only.tier) == (ESCALATE, "emergency")
    assert learned_only.reasons == ("difficulty breathing (recognised by the learned detector)",)
    higher = model.decide(detector.assess("my eyelid is drooping"), _verdict(emergency=0.9), TIER_RANK)
    assert higher.tier == "emergency"


def test_a_combination_the_two_detectors_find_between_them_is_an_emergency(detector):
    # The rules see the face drooping (urgent), the model the arm that gave way: stroke-like signs.
    assessment = detector.assess("my face is drooping on one side, and my hand is useless")
    assert assessment.tier == "urgent"
    decision = _model().decide(assessment, _verdict(urgent=0.8, limb_weakness=0.9), TIER_RANK)
    assert (decision.action, decision.tier) == (ESCALATE, "emergency")
    assert any("stroke-like" in reason for reason in decision.reasons)
    alone = _model().decide(assessment, _verdict(urgent=0.8), TIER_RANK)
    assert alone.tier == "urgent"


def test_the_model_alone_needs_more_to_escalate_a_symptom_the_rules_read_as_denied(detector):
    # "I'm swallowing fine" looks like a swallowing report to a model without a notion of negation.
    denied = detector.assess("my eyelids are not drooping")
    assert denied.findings and denied.tier is None
    model = _model(report=0.5, denied=0.9)
    assert model.decide(denied, _verdict(urgent=0.8), TIER_RANK).action != ESCALATE
    assert model.decide(denied, _verdict(urgent=0.95), TIER_RANK).action == ESCALATE
    unnamed = detector.assess("something is wrong with my face")
    assert model.decide(unnamed, _verdict(urgent=0.8), TIER_RANK).action == ESCALATE


def test_the_model_alone_needs_more_to_escalate_a_message_that_says_things_are_normal(bilingual_rules):
    # "My voice held up perfectly": the model reads the topic, the voice, and took such messages for reports.
    normal = bilingual_rules.assess("I'm passing water completely normally, everything's working as it should")
    assert normal.reassured and not normal.findings
    model = _model(report=0.5, denied=0.9)
    assert model.decide(normal, _verdict(urgent=0.8), TIER_RANK).action != ESCALATE
    assert model.decide(normal, _verdict(urgent=0.95), TIER_RANK).action == ESCALATE


def test_a_rules_report_the_model_finds_very_unlikely_is_asked_about(detector):
    assessment = detector.assess("my eyelid is drooping")
    assert assessment.tier == "urgent"
    decision = _model().decide(assessment, _verdict(urgent=0.02), TIER_RANK)
    assert decision.action == ASK and decision.tier == "urgent"


def test_a_named_symptom_the_model_finds_likely_enough_is_asked_about(detector):
    decision = _model().decide(detector.assess("what does a droopy eyelid mean?"), _verdict(urgent=0.3), TIER_RANK)
    assert decision.action == ASK and decision.tier == "urgent"
    assert decision.as_parse_data()["possible_labels"] == ["drooping eyelid or eyebrow"]
    quiet = _model().decide(detector.assess("what does a droopy eyelid mean?"), _verdict(urgent=0.1), TIER_RANK)
    assert quiet.action == SAFETY_NET
    nothing = _model().decide(detector.assess("how much does it cost?"), _verdict(urgent=0.3), TIER_RANK)
    assert nothing.action == NOTHING


def test_the_built_model_reads_back_the_same(tmp_path):
    from botox_clinic import paths

    model = ReportModel.load(paths.RED_FLAG_MODEL)
    model.save(tmp_path)
    again = ReportModel.load(tmp_path)
    from scripts.red_flag_corpus_tools import embeddings

    embedding = embeddings(["i cant breathe"])[0]
    assert again.verdict("i cant breathe", embedding) == model.verdict("i cant breathe", embedding)
    assert again.thresholds == model.thresholds


def test_one_message_is_featurised_as_scikit_learn_does(corpus):
    # verdict() reads one message's TF-IDF columns without scikit-learn's sparse matrices.
    features = TextFeatures.fit([example.text for example in corpus])
    for example in corpus[::5] + [red_flag_corpus.Example("", "g", (), "plain", "none", "en")]:
        expected = features.transform([example.text])
        columns, values = features.transform_one(example.text)
        order, expected_order = np.argsort(columns), np.argsort(expected.indices)
        assert list(columns[order]) == list(expected.indices[expected_order]), example.text
        assert np.allclose(values[order], expected.data[expected_order]), example.text


def test_the_nlu_component_gives_every_entity_its_span(detector):
    # Rasa's NLU evaluation (cross-validation) needs start and end on every entity.
    from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from components.red_flag_detector import RedFlagDetector
    from scripts.red_flag_corpus_tools import embeddings

    component = RedFlagDetector(RedFlagDetector.get_default_config())
    # A report (red_flag entities) and a message the detectors ask about (possible_red_flag).
    for text in ("my eyelid is drooping and I can't swallow", "say my eyelid drops after the injections, would it stay that way?"):
        message = Message({TEXT: text, INTENT: {"name": "greet", "confidence": 0.9}})
        message.add_features(Features(embeddings([text]), FEATURE_TYPE_SENTENCE, TEXT, "encoder"))
        component.process([message])
        entities = message.get(ENTITIES)
        assert entities and all(0 <= e["start"] < e["end"] <= len(text) for e in entities), entities


def test_a_question_the_classifier_took_for_a_report_still_gets_the_safety_net(detector):
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from components.red_flag_detector import REPORT_INTENT, SAFETY_NET_INTENT, RedFlagDetector
    from scripts.red_flag_corpus_tools import embeddings

    component = RedFlagDetector(RedFlagDetector.get_default_config())
    text = "what does an allergic reaction look like?"
    message = Message({TEXT: text, INTENT: {"name": REPORT_INTENT, "confidence": 0.6},
                       INTENT_RANKING_KEY: [{"name": REPORT_INTENT, "confidence": 0.6},
                                            {"name": "ask_what_is", "confidence": 0.3}]})
    message.add_features(Features(embeddings([text]), FEATURE_TYPE_SENTENCE, TEXT, "encoder"))
    component.process([message])
    assert message.get(INTENT)["name"] == SAFETY_NET_INTENT


# "had my crows feet done yesterday." was escalated before corpora/red_flags/*/treatment_statements.yml.
@pytest.mark.parametrize("text", ["had my crows feet done yesterday.", "got botox in my forehead yesterday",
                                  "me pusieron bótox ayer en el entrecejo"])
def test_a_statement_of_ones_own_treatment_is_no_report(detector, text):
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from botox_clinic.red_flags import ASSESSMENT_KEY
    from components.red_flag_detector import RedFlagDetector
    from scripts.red_flag_corpus_tools import embeddings

    message = Message({TEXT: text, INTENT: {"name": "inform_treatment", "confidence": 0.9}})
    message.add_features(Features(embeddings([text]), FEATURE_TYPE_SENTENCE, TEXT, "encoder"))
    RedFlagDetector(RedFlagDetector.get_default_config()).process([message])
    assert message.get(INTENT)["name"] == "inform_treatment" and message.get(ASSESSMENT_KEY)["action"] == NOTHING
