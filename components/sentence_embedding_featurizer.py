"""Rasa featurizer adding a pretrained sentence embedding to each message.

The intent classifier gets the embedding as a dense sentence-level feature next to the count
features: the counts keep exact wording ("touch up", typos via character n-grams), the embedding
carries meaning for wording the training data never had. See scripts/build_sentence_encoder.py
and scripts/build_multilingual_encoder.py for where the models come from.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.sentence_encoder import SentenceEncoder


@lru_cache(maxsize=None)
def _encoder(directory: str) -> SentenceEncoder:
    # One copy of the weights per process, however many pipeline nodes use it.
    return SentenceEncoder(Path(directory))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a sentence encoder's embedding of the message text as a sentence feature (config.yml
    names the encoder: all-MiniLM-L6-v2, and the multilingual Universal Sentence Encoder)."""

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "onnxruntime"]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEmbeddingFeaturizer":
        return cls(execution_context.node_name, config)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not config.get("model"):
            raise ValueError("SentenceEmbeddingFeaturizer needs `model`: the directory "
                             "scripts/build_sentence_encoder.py built")

    def process(self, messages: List[Message]) -> List[Message]:
        # Empty text too: the classifier then sees the same kind of features for every message.
        with_text = [message for message in messages if isinstance(message.get(TEXT), str)]
        if with_text:
            vectors = _encoder(self._config["model"]).encode([message.get(TEXT) for message in with_text])
            for message, vector in zip(with_text, vectors):
                message.add_features(Features(
                    np.expand_dims(vector, 0), FEATURE_TYPE_SENTENCE, TEXT,
                    self._config[FEATURIZER_CLASS_ALIAS],
                ))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
