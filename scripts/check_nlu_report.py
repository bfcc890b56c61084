"""Fail when NLU quality on held-out data (the cross-validation folds' test sets) drops below the
project's thresholds, for each language on its own.

usage: python -m scripts.check_nlu_report RESULTS_DIR [--min-weighted-f1 0.95] [--min-intent-f1 0.85]
                                          [--floor LANGUAGE=WEIGHTED,INTENT ...]

RESULTS_DIR is `rasa test nlu --cross-validation --successes --out RESULTS_DIR`'s: every test
sentence is in intent_successes.json or intent_errors.json; a sentence is Spanish when it is one of
data/nlu/es's examples. Both languages' figures are printed, and each must meet the thresholds.
`--floor es=0.86,0.74` replaces them for a language that does not meet them yet: its figures are
still printed against the bar, and the run fails only below the floor (a regression).
"""
import argparse
import json
import sys
from pathlib import Path

from sklearn.metrics import precision_recall_fscore_support

from botox_clinic.language import LANGUAGES
from botox_clinic.red_flag_corpus import nlu_examples


def scores(rows):
    """(weighted F1, {intent: F1}) of (true, predicted) pairs."""
    true, predicted = [t for t, _ in rows], [p for _, p in rows]
    labels = sorted(set(true))
    _, _, f1, support = precision_recall_fscore_support(true, predicted, labels=labels, zero_division=0)
    weighted = sum(f * s for f, s in zip(f1, support)) / sum(support)
    return weighted, dict(zip(labels, f1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=Path)
    parser.add_argument("--min-weighted-f1", type=float, default=0.95)
    parser.add_argument("--min-intent-f1", type=float, default=0.85)
    parser.add_argument("--floor", action="append", default=[], metavar="LANGUAGE=WEIGHTED,INTENT")
    args = parser.parse_args()
    floors = {}
    for floor in args.floor:
        language, _, figures = floor.partition("=")
        weighted_floor, intent_floor = (float(figure) for figure in figures.split(","))
        floors[language] = (weighted_floor, intent_floor)
    sentences = []
    for name in ("intent_successes.json", "intent_errors.json"):
        with open(args.results / name, encoding="utf-8") as f:
            sentences += json.load(f)
    language_of = {}
    for language in LANGUAGES:
        for _, _, text in nlu_examples(language=language):
            language_of.setdefault(text, language)
    failed = False
    for language in LANGUAGES:
        rows = [(s["intent"], (s.get("intent_prediction") or {}).get("name") or "None")
                for s in sentences if language_of.get(s["text"], "en") == language]
        if not rows:
            continue
        weighted, intents = scores(rows)
        weak = {name: round(f1, 3) for name, f1 in sorted(intents.items()) if f1 < args.min_intent_f1}
        print(f"NLU {language}: weighted F1 {weighted:.3f} (min {args.min_weighted_f1}), lowest intent "
              f"{min(intents.values()):.3f} (min {args.min_intent_f1}) over {len(intents)} intents, {len(rows)} sentences")
        if weak:
            print(f"  intents below {args.min_intent_f1}: {weak}")
        if language in floors:
            weighted_floor, intent_floor = floors[language]
            below = weighted < weighted_floor or min(intents.values()) < intent_floor
            print(f"  {language} does not meet the bar yet; regression floor {weighted_floor} weighted, "
                  f"{intent_floor} lowest intent: {'FAILED' if below else 'held'}")
            failed |= below
        else:
            failed |= weighted < args.min_weighted_f1 or bool(weak)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
