"""NLU component: the deterministic red-flag detector has the last word on safety routing.

Red flags are detected once, here: the assessment (tier, categories, reasons) goes into the parse
data (botox_clinic.red_flags.ASSESSMENT_KEY), and the escalation reads it from there. The rules file is the one
configured for every process (RED_FLAG_RULES, botox_clinic/settings.py).

It runs after the intent classifiers, so a safety decision never rests on one classifier:
- the detector finds a first-person report            -> intent report_red_flag (escalated), whatever
                                                         DIET said, with a `red_flag` entity per symptom;
- the detector finds a red-flag symptom only asked
  about, or someone else's                            -> a side-effect answer that carries the
                                                         emergency safety net;
- the detector finds it negated or past, but DIET
  said report_red_flag                                -> the best other intent (not escalated);
- the detector finds nothing, DIET says report_red_flag -> left as is: escalated (urgent by default).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from botox_clinic.red_flags import ASSESSMENT_KEY, NEGATED, PAST, REPORT, configured_detector

REPORT_INTENT = "report_red_flag"
SAFETY_NET_INTENT = "ask_side_effects"
FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class RedFlagDetector(GraphComponent):
    def __init__(self, config: Dict[Text, Any]) -> None:
        self._detector = configured_detector()

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
        assessment = self._detector.assess(text)
        message.set(ASSESSMENT_KEY, assessment.as_parse_data(), add_to_output=True)
        intent = (message.get(INTENT) or {}).get("name")
        if assessment.is_report:
            entities = list(message.get(ENTITIES) or [])
            first = {}
            for f in assessment.findings:
                if f.context == REPORT:
                    first.setdefault(f.category, f)
            entities += [{"entity": "red_flag", "value": f.category, "start": f.start, "end": f.end,
                          "extractor": type(self).__name__} for f in first.values()]
            message.set(ENTITIES, entities, add_to_output=True)
            self._set_intent(message, REPORT_INTENT)
        elif not assessment.mentions_red_flag:
            return
        elif all(f.context in (NEGATED, PAST) for f in assessment.findings):
            if intent == REPORT_INTENT:
                ranking = message.get(INTENT_RANKING_KEY) or []
                best = next((r["name"] for r in ranking if r["name"] not in (REPORT_INTENT, FALLBACK_INTENT)),
                            FALLBACK_INTENT)
                self._set_intent(message, best)
        elif intent != SAFETY_NET_INTENT:
            self._set_intent(message, SAFETY_NET_INTENT)

    @staticmethod
    def _set_intent(message: Message, name: str) -> None:
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
        message.set(INTENT, {"name": name, "confidence": 1.0}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [{"name": name, "confidence": 1.0}] + ranking, add_to_output=True)
