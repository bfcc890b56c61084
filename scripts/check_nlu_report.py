"""Fail when NLU quality on held-out data (the cross-validation folds' test sets) drops below the
project's thresholds.

usage: check_nlu_report.py results/nlu/intent_report.json [--min-weighted-f1 0.95] [--min-intent-f1 0.85]
"""
import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--min-weighted-f1", type=float, default=0.95)
    parser.add_argument("--min-intent-f1", type=float, default=0.85)
    args = parser.parse_args()
    with open(args.report, encoding="utf-8") as f:
        report = json.load(f)
    weighted = report["weighted avg"]["f1-score"]
    intents = {name: v["f1-score"] for name, v in report.items()
               if isinstance(v, dict) and "support" in v and name not in ("micro avg", "macro avg", "weighted avg")}
    weak = {name: round(f1, 3) for name, f1 in sorted(intents.items()) if f1 < args.min_intent_f1}
    print(f"NLU: weighted F1 {weighted:.3f} (min {args.min_weighted_f1}), "
          f"lowest intent {min(intents.values()):.3f} (min {args.min_intent_f1}) over {len(intents)} intents")
    failed = weighted < args.min_weighted_f1 or bool(weak)
    if weak:
        print(f"intents below {args.min_intent_f1}: {weak}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
