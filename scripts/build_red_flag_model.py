"""Build the learned red-flag detector from the training part of the red-flag corpus.

    python -m scripts.build_red_flag_model [OUTPUT_DIR]      # default build/red_flag_model

`make train` runs it when the corpus, the rules, the NLU data or the code changed. It is fitted on
the corpus's training part and, as look-alikes, the NLU examples of every other intent; the
held-out part is never seen here (botox_clinic/red_flag_corpus.py): `make red-flags` measures on it.
"""
import sys
from pathlib import Path

import yaml

from botox_clinic import paths, red_flag_corpus, red_flag_model
from botox_clinic.settings import get_settings
from scripts.red_flag_corpus_tools import assess


def build(output: Path) -> red_flag_model.ReportModel:
    training, _ = red_flag_corpus.split(red_flag_corpus.load())
    training += red_flag_corpus.everyday_messages()
    rules, assessments, embeddings = assess(training)
    with open(get_settings().red_flag_rules, encoding="utf-8") as f:
        rule_file = yaml.safe_load(f)
    model = red_flag_model.fit(embeddings, assessments, training, rule_file, rules.tier_rank)
    model.save(output)
    return model


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else paths.RED_FLAG_MODEL
    built = build(target)
    print(f"learned red-flag detector: {target} thresholds {built.thresholds} "
          f"(training part, out of fold: {built.training_summary})")
