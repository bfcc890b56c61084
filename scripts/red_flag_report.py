"""Recall and false escalations of the two red-flag detectors on the red-flag corpus, per category
and per framing, on the held-out part (never tuned on) beside the training part.

    python -m scripts.red_flag_report [--language en|es] [--show-failures]      # `make red-flags`

Each language is reported on its own (both by default), and each must meet the bar.

A report counts as caught when it is escalated at its tier or higher; "asked" reports got "Is this
happening to you now?" instead (not counted as caught). A look-alike counts as a false escalation
when it is escalated. Exit status 1 when the held-out part misses the bar: by default the issue's
(every report caught, at most 3% of look-alikes escalated); `make test` passes the floor reached so
far, so that it fails on a regression.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Dict, List, Sequence

from botox_clinic import paths, red_flag_corpus
from botox_clinic.language import LANGUAGES
from botox_clinic.red_flag_model import ASK, ESCALATE, ReportModel
from scripts.red_flag_corpus_tools import assess


def decisions(model: ReportModel, examples: Sequence[red_flag_corpus.Example]):
    rules, assessments, embeddings = assess(examples)
    return [model.decide(a, model.verdict(x.text, e), rules.tier_rank)
            for x, e, a in zip(examples, embeddings, assessments)], rules


def outcome(example, decision, tier_rank) -> str:
    if example.is_report:
        if decision.action == ESCALATE and tier_rank[decision.tier] >= tier_rank[example.expect]:
            return "caught"
        if decision.action == ESCALATE:
            return "under-tiered"
        return "asked" if decision.action == ASK else "missed"
    return "false escalation" if decision.action == ESCALATE else ("asked" if decision.action == ASK else "quiet")


def table(title: str, rows: Dict[str, Dict[str, List[str]]]) -> List[str]:
    lines = [f"| {title} | held-out recall | held-out false esc. | training recall | training false esc. |",
             "|---|---:|---:|---:|---:|"]
    for key in sorted(rows):
        cells = []
        for part in ("held-out", "training"):
            outcomes = rows[key][part]
            reports = [o for o in outcomes if o in ("caught", "under-tiered", "asked", "missed")]
            looks = [o for o in outcomes if o in ("false escalation", "quiet", "asked-lookalike")]
            cells.append(f"{sum(o == 'caught' for o in reports)}/{len(reports)}" if reports else "-")
            cells.append(f"{sum(o == 'false escalation' for o in looks)}/{len(looks)}" if looks else "-")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.red_flag_report", description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=LANGUAGES, help="one language (default: each in turn)")
    parser.add_argument("--show-failures", action="store_true", help="list the held-out part's misses and false alarms")
    parser.add_argument("--min-recall", type=float, default=1.0, help="held-out reports caught at their tier (1.0)")
    parser.add_argument("--max-false-rate", type=float, default=0.03, help="held-out look-alikes escalated (0.03)")
    args = parser.parse_args(argv)
    model = ReportModel.load(paths.RED_FLAG_MODEL)
    met = [report(model, language, args) for language in ([args.language] if args.language else LANGUAGES)]
    return 0 if all(met) else 1


def report(model: ReportModel, language: str, args) -> bool:
    examples = red_flag_corpus.load(languages=[language])
    training, held_out = red_flag_corpus.split(examples)
    by_category: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    by_framing: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    totals = {}
    failures = []
    for part, subset in (("held-out", held_out), ("training", training)):
        found, rules = decisions(model, subset)
        counts = defaultdict(int)
        for example, decision in zip(subset, found):
            result = outcome(example, decision, rules.tier_rank)
            if result == "asked" and not example.is_report:
                result = "asked-lookalike"
            counts[result] += 1
            for category in example.categories or ("(none)",):
                by_category[category][part].append(result)
            by_framing[example.framing][part].append(result)
            if part == "held-out" and result in ("missed", "under-tiered", "asked", "false escalation"):
                failures.append((result, example, decision))
        reports = counts["caught"] + counts["under-tiered"] + counts["asked"] + counts["missed"]
        looks = counts["false escalation"] + counts["quiet"] + counts["asked-lookalike"]
        totals[part] = (counts, reports, looks)
    print(f"Red-flag corpus ({language}): {len(examples)} messages, {len(held_out)} held out "
          f"(seed {red_flag_corpus.SPLIT_SEED!r}, by group). Thresholds: {model.thresholds}\n")
    print("\n".join(table("category", by_category)) + "\n")
    print("\n".join(table("framing", by_framing)) + "\n")
    for part, (counts, reports, looks) in totals.items():
        print(f"{part}: recall {counts['caught']}/{reports} = {counts['caught'] / max(reports, 1):.1%} "
              f"(under-tiered {counts['under-tiered']}, asked {counts['asked']}, missed {counts['missed']}); "
              f"false escalations {counts['false escalation']}/{looks} = {counts['false escalation'] / max(looks, 1):.1%} "
              f"(asked {counts['asked-lookalike']})")
    if args.show_failures:
        for result, example, decision in failures:
            print(f"  {result:16} {example.expect:9} {example.framing:22} p={decision.report_probability:.2f} "
                  f"{decision.action:10} {example.text!r}")
    counts, reports, looks = totals["held-out"]
    ok = counts["caught"] >= args.min_recall * reports and counts["false escalation"] <= args.max_false_rate * looks
    print(f"{language} held-out bar (recall >= {args.min_recall:.1%} at the right tier or higher, false escalations <= "
          f"{args.max_false_rate:.1%}): " + ("met" if ok else "NOT MET") + "\n")
    return ok


if __name__ == "__main__":
    sys.exit(main())
