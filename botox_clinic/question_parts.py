"""A message split where it may ask more than one question, by the words in content/question_parts.yml:

    split_questions("is it quick, and is the needle painful?")  # ["is it quick", "is the needle painful?"]

    clauses("I've got the kids at 3, so how long is it?")  # ["I've got the kids at 3", "so how long is it?"]

Only proposals: components/message_parts.py decides whether the parts are separate questions, and
which clause of a long message not understood as a whole is its question."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, List, Pattern

import yaml

from botox_clinic import paths


@lru_cache(maxsize=1)
def _boundary() -> Pattern[str]:
    with open(paths.QUESTION_PARTS, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    starts = sorted({word for words in data["starts"].values() for word in words}, key=len, reverse=True)
    joins = sorted(data["joins"], key=len, reverse=True)
    join = "|".join(re.escape(word) if not word.isalpha() else rf"\b{re.escape(word)}\b" for word in joins)
    start = "|".join(re.escape(word) for word in starts)
    return re.compile(
        rf"(?<=[?!.;])\s+"  # the end of a sentence
        rf"|\s*(?:,\s*)?(?:(?:{join})\s*)?(?=¿)"  # an opening question mark
        rf"|\s*(?:,\s*)?(?:{join})\s*(?=¿?(?:{start})\b)",  # a join before a question's first word
        re.IGNORECASE)


def split_questions(text: str) -> List[str]:
    """The message's parts with words in them, in order; [] when there is one or none."""
    return _several(part.strip(" ,;") for part in _boundary().split(" ".join(text.split())))


def clauses(text: str) -> List[str]:
    """The message's clauses (between commas, semicolons, dashes and the ends of sentences) with words
    in them, in order; [] when there is one or none."""
    return _several(part.strip(" ,;-–—") for part in re.split(r"(?<=[?!.;,])\s+|\s+[-–—]+\s+", " ".join(text.split())))


def _several(parts: Iterable[str]) -> List[str]:
    """The parts with words in them, if there are two or more; else []."""
    worded = [part for part in parts if re.search(r"\w", part)]
    return worded if len(worded) > 1 else []
