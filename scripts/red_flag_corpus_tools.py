"""What the red-flag model build and report share: the corpus examples with their rule assessments
and sentence embeddings, computed the way the running assistant computes them."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from botox_clinic import paths
from botox_clinic.red_flag_corpus import Example
from botox_clinic.red_flags import Assessment, RedFlagDetector, configured_detector


def assess(examples: Sequence[Example]) -> Tuple[RedFlagDetector, List[Assessment], np.ndarray]:
    # Imported here: the encoder lives with the Rasa components, whose package loads Rasa.
    from components.sentence_encoder import SentenceEncoder

    rules = configured_detector()
    texts = [example.text for example in examples]
    return rules, [rules.assess(text) for text in texts], SentenceEncoder(paths.SENTENCE_ENCODER).encode(texts)
