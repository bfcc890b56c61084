"""Our forward pass of all-MiniLM-L6-v2 against vectors from the reference implementation."""
import json
from pathlib import Path

import numpy as np
import pytest
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
