"""What the red-flag model build and report share: the corpus examples with their rule assessments
and sentence embeddings, computed the way the running assistant computes them."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from botox_clinic import paths
from botox_clinic.red_flag_corpus import Example
from botox_clinic.red_flags import Assessment, RedFlagRules, configured_detector


def embeddings(texts: Sequence[str]) -> np.ndarray:
    """Every configured sentence encoder's embedding of each text, side by side, in the pipeline's
    order (paths.SENTENCE_ENCODERS): what components/red_flag_detector.py reads from a message."""
    # Imported here: the encoder lives with the Rasa components, whose package loads Rasa.
    from components.sentence_encoder import SentenceEncoder

    return np.hstack([SentenceEncoder(directory).encode(list(texts)) for directory in paths.SENTENCE_ENCODERS])


def assess(examples: Sequence[Example]) -> Tuple[RedFlagRules, List[Assessment], np.ndarray]:
    rules = configured_detector()
    texts = [example.text for example in examples]
    return rules, [rules.assess(text) for text in texts], embeddings(texts)
