"""NLU component: the two red-flag detectors have the last word on safety routing.

Red flags are detected once, here, by two independent detectors: the rules over clinic/red_flags.yml
(botox_clinic/red_flags.py) and a learned report detector over the message's words and sentence
embedding (botox_clinic/red_flag_model.py, built from the red-flag corpus by
scripts/build_red_flag_model.py). Their decision goes into the parse data
(botox_clinic.red_flags.ASSESSMENT_KEY), where the escalation reads it. The rules file is the one
configured for every process (RED_FLAG_RULES, botox_clinic/settings.py).

It runs after the intent classifiers, so a safety decision never rests on one classifier:
- either detector finds a report                 -> intent report_red_flag (escalated at the higher
                                                    tier), with a `red_flag` entity per symptom;
- a symptom is named and the learned detector
  finds a report likely but not certain          -> the side-effects answer with its safety net, then
                                                    "Is this happening to you now?" (entity
                                                    possible_red_flag; data/rules.yml);
- a symptom only asked about, or someone else's  -> the side-effects answer with its safety net;
- a symptom negated or past, but the classifier
  said report_red_flag                            -> the best other intent (not escalated);
- neither detector finds anything but the
  classifier says report_red_flag                 -> escalated (urgent) if the learned detector finds
                                                    a report at all likely, else the best other intent.
Where the side-effects answer replaces the classifier's reading, that reading is kept under
CLASSIFIED_KEY: a question on something else ("how painful is it? I nearly faint at blood tests")
is answered first (components/message_parts.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from botox_clinic import paths
from botox_clinic.red_flag_model import ASK, ESCALATE, Decision, ReportModel
from botox_clinic.red_flags import ASSESSMENT_KEY, NEGATED, PAST, configured_detector

REPORT_INTENT = "report_red_flag"
SAFETY_NET_INTENT = "ask_side_effects"
FALLBACK_INTENT = "nlu_fallback"
POSSIBLE_ENTITY = "possible_red_flag"
# The parse data's key for the classifier's intent where the safety net replaced it.
CLASSIFIED_KEY = "classified_intent"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class RedFlagDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # The learned detector built by scripts/build_red_flag_model.py (`make train` builds it).
        return {"model": str(paths.RED_FLAG_MODEL.relative_to(paths.PROJECT_ROOT))}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._rules = configured_detector()
        directory = paths.resolve(config["model"])
        if not (directory / "model.json").exists():
            raise FileNotFoundError(f"{directory}: no learned red-flag detector; `make train` builds it")
        self._model = ReportModel.load(Path(directory))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "RedFlagDetector":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._route(message)
        return messages

    def process_training_data(self, training_data):
        return training_data

    def _route(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text or text.startswith("/"):  # button payloads name their intent already
            return
        assessment = self._rules.assess(text)
        verdict = self._model.verdict(text, _embedding(message))
        decision = self._model.decide(assessment, verdict, self._rules.tier_rank)
        intent = (message.get(INTENT) or {}).get("name")
        if decision.action not in (ESCALATE, ASK) and intent == REPORT_INTENT and not assessment.findings:
            # Only the intent classifier calls it a report: the learned detector decides.
            if verdict.report_probability >= self._model.thresholds.ask:
                decision = Decision(ESCALATE, "urgent", (), (), verdict.report_probability)
        message.set(ASSESSMENT_KEY, decision.as_parse_data(), add_to_output=True)
        if decision.action == ESCALATE:
            # Where the rules found the phrase, its span; for the learned detector, the message's.
            spans = {f.category: (f.start, f.end) for f in reversed(assessment.findings)}
            self._add_entities(message, [("red_flag", category, spans.get(category, (0, len(text))))
                                         for category in decision.categories])
            self._set_intent(message, REPORT_INTENT)
        elif decision.action == ASK:
            self._add_entities(message, [(POSSIBLE_ENTITY, decision.tier, (0, len(text)))])
            self._to_safety_net(message)
        elif assessment.findings and not all(f.context in (NEGATED, PAST) for f in assessment.findings):
            # Asked about, or someone else's: the answer carries the emergency safety net, whatever
            # the classifier said.
            self._to_safety_net(message)
        elif intent == REPORT_INTENT:
            # Negated, past, or a report to the classifier alone that the learned detector rejects.
            self._set_intent(message, self._best_other(message))

    def _add_entities(self, message: Message, found: List[tuple]) -> None:
        entities = list(message.get(ENTITIES) or [])
        entities += [{"entity": entity, "value": value, "start": start, "end": end, "extractor": type(self).__name__}
                     for entity, value, (start, end) in found]
        message.set(ENTITIES, entities, add_to_output=True)

    def _to_safety_net(self, message: Message) -> None:
        if message.get(INTENT):
            message.set(CLASSIFIED_KEY, dict(message.get(INTENT)), add_to_output=True)
        self._set_intent(message, SAFETY_NET_INTENT)

    @staticmethod
    def _best_other(message: Message) -> str:
        ranking = message.get(INTENT_RANKING_KEY) or []
        return next((r["name"] for r in ranking if r["name"] not in (REPORT_INTENT, FALLBACK_INTENT)), FALLBACK_INTENT)

    @staticmethod
    def _set_intent(message: Message, name: str) -> None:
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
        message.set(INTENT, {"name": name, "confidence": 1.0}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [{"name": name, "confidence": 1.0}] + ranking, add_to_output=True)


def _embedding(message: Message) -> np.ndarray:
    """The sentence embedding the featurizer added (components/sentence_embedding_featurizer.py)."""
    dense = [f.features for f in message.features
             if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and not f.is_sparse()]
    return np.concatenate([block.ravel() for block in dense])
