"""The red-flag corpus (corpora/red_flags/<language>/*.yml): reports and look-alikes, by category and framing.

Each file is a list of groups; a group is one idea in one to three wordings:

    - group: breathing-plain-001
      categories: [breathing]        # the categories reported, or resembled by a look-alike
      framing: plain                 # how it is said (see FRAMINGS)
      expect: emergency              # the tier a report must reach at least; `none` for a look-alike
      texts: ["I can't get a full breath in", "cant get a full breath in"]

The held-out part is chosen by a hash of the group's name and SPLIT_SEED, fixed before anything was
measured, so every wording of one idea falls in the same part and no detector or threshold is tuned
on the held-out part: the learned detector is fitted, and its thresholds chosen, on the training part
alone.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Tuple

import yaml

from botox_clinic import paths
from botox_clinic.language import DEFAULT_LANGUAGE, LANGUAGES

CORPUS = paths.RED_FLAG_CORPUS
SPLIT_SEED = "red-flag-corpus-2026-12-01"
HELD_OUT_PERCENT = 25
TIERS = ("none", "urgent", "emergency")
# The framing of the everyday look-alikes taken from the NLU data (`everyday_messages`).
EVERYDAY = "everyday"
REPORT_FRAMINGS = ("plain", "question_wrapped", "carer", "long", "sms_typo", "no_textbook", "worsening",
                   "combination", "mid_conversation")
LOOKALIKE_FRAMINGS = ("lookalike_question", "lookalike_negation", "lookalike_past", "lookalike_other_person",
                      "lookalike_idiom", "lookalike_routine", "lookalike_topic")


@dataclass(frozen=True)
class Example:
    text: str
    group: str
    categories: Tuple[str, ...]
    framing: str
    expect: str  # a tier in TIERS
    language: str

    @property
    def is_report(self) -> bool:
        return self.expect != "none"


def is_held_out(group: str) -> bool:
    digest = hashlib.sha256(f"{SPLIT_SEED}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


def load(directory: Path = CORPUS, languages: Iterable[str] = LANGUAGES) -> List[Example]:
    examples = []
    for language in languages:
        for path in sorted((directory / language).glob("*.yml")):
            with open(path, encoding="utf-8") as f:
                groups = yaml.safe_load(f) or []
            for entry in groups:
                problem = _problem(entry)
                if problem:
                    raise ValueError(f"{path.name}: group {entry.get('group')!r}: {problem}")
                for text in entry["texts"]:
                    examples.append(Example(str(text), f"{language}:{entry['group']}", tuple(entry["categories"] or ()),
                                            entry["framing"], entry["expect"], language))
    return examples


def everyday_messages(nlu_directory: Path = paths.PROJECT_ROOT / "data/nlu",
                      report_intent: str = "report_red_flag") -> List[Example]:
    """The assistant's own training examples of every intent but the red-flag report, in every
    language, as look-alikes for fitting only: the learned detector must see greetings, "yes" and
    "forget me" to know they are not reports. They are never part of the measured corpus."""
    return [Example(text, f"nlu:{language}:{intent}:{line}", (), EVERYDAY, "none", language)
            for language in LANGUAGES
            for intent, line, text in nlu_examples(nlu_directory, language) if intent != report_intent]


def nlu_examples(nlu_directory: Path = paths.PROJECT_ROOT / "data/nlu",
                 language: str = DEFAULT_LANGUAGE) -> Iterator[Tuple[str, int, str]]:
    """(intent, line within the intent's examples, text) for every NLU training example of a
    language (English in data/nlu, another language in data/nlu/<language>), entity annotations
    removed."""
    directory = nlu_directory if language == DEFAULT_LANGUAGE else nlu_directory / language
    for path in sorted(directory.glob("*.yml")):
        with open(path, encoding="utf-8") as f:
            blocks = yaml.safe_load(f)["nlu"]
        for block in blocks:
            if "intent" in block:
                for number, line in enumerate(block["examples"].splitlines()):
                    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line.strip()[2:]).strip()
                    if text:
                        yield block["intent"], number, text


def split(examples: Iterable[Example]) -> Tuple[List[Example], List[Example]]:
    """(training part, held-out part)."""
    training, held_out = [], []
    for example in examples:
        (held_out if is_held_out(example.group) else training).append(example)
    return training, held_out


def _problem(entry: dict) -> str:
    if entry.get("expect") not in TIERS:
        return f"expect must be one of {', '.join(TIERS)}"
    if entry.get("framing") not in REPORT_FRAMINGS + LOOKALIKE_FRAMINGS:
        return f"unknown framing {entry.get('framing')!r}"
    if (entry["expect"] == "none") != entry["framing"].startswith("lookalike_"):
        return "look-alike framings expect none, report framings a tier"
    if not entry.get("texts"):
        return "no texts"
    return ""
