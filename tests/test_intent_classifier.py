"""The classifier's NumPy prediction gives scikit-learn's probabilities and Rasa's ranking format."""
import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.intent_classifier import EmbeddingIntentClassifier

INTENTS = ["ask_aftercare", "ask_cost", "ask_side_effects", "greet"]


def counts(rng, width):
    # A repeated column: COO duplicates are summed, as scipy does.
    columns = rng.integers(0, width, size=6)
    return scipy.sparse.coo_matrix((rng.integers(1, 4, size=6).astype(float), (np.zeros(6), columns)),
                                   shape=(1, width))


def featurized(rng, intent=None, text="some text"):
    """Two count blocks (as from the word and character featurizers, joined in this order), token-level
    counts the classifier must ignore, and a unit embedding."""
    message = Message(data={TEXT: text, **({"intent": intent} if intent else {})})
    message.add_features(Features(counts(rng, 30), "sentence", TEXT, "words"))
    message.add_features(Features(scipy.sparse.coo_matrix(rng.integers(0, 2, size=(2, 30)).astype(float)),
                                  "sequence", TEXT, "words"))
    message.add_features(Features(counts(rng, 20), "sentence", TEXT, "characters"))
    embedding = rng.normal(size=(1, 16))
    message.add_features(Features(embedding / np.linalg.norm(embedding), "sentence", TEXT, "embedding"))
    return message


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    rng = np.random.default_rng(7)
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    component = EmbeddingIntentClassifier.create(
        {**EmbeddingIntentClassifier.get_default_config(), "ranking_length": 3}, storage,
        Resource("intent_classifier"), ExecutionContext(None, "intent_classifier"))
    component.train(TrainingData([featurized(rng, INTENTS[i % 4]) for i in range(80)]))
    return component


def test_probabilities_equal_scikit_learns(classifier):
    rng = np.random.default_rng(11)
    for _ in range(20):
        message = featurized(rng)
        expected = classifier.clf.predict_proba(classifier._create_X([message]))[0]
        np.testing.assert_allclose(classifier._probabilities(message), expected, rtol=1e-9, atol=1e-12)


def test_process_sets_the_top_intent_and_a_ranking_of_configured_length(classifier):
    message = featurized(np.random.default_rng(3))
    classifier.process([message])
    expected = classifier.clf.predict_proba(classifier._create_X([message]))[0]
    ranking = message.get("intent_ranking")
    assert [entry["name"] for entry in ranking] == [classifier.clf.classes_[i] for i in np.argsort(-expected)[:3]]
    assert message.get("intent") == ranking[0]
    assert ranking[0]["confidence"] == pytest.approx(expected.max())


def test_a_message_without_features_keeps_no_intent(classifier):
    message = Message(data={TEXT: ""})
    classifier.process([message])
    assert message.get("intent") is None
