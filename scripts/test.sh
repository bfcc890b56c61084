#!/usr/bin/env bash
# Every check, in order of cost. Each failing step fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/server_env.sh
rasa=.venv/bin/rasa
# The live tests must run here: without a trained model they fail instead of skipping.
export BOTOX_REQUIRE_LIVE=1

# Each step's heading carries the minutes spent so far, so a slow CI run shows which step grew.
step() { echo "== [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }

step "lint (ruff)"
.venv/bin/ruff check .

step "data validation (warnings fail)"
$rasa data validate --fail-on-warnings --quiet

# The issue's bar (recall 100%, false escalations <= 3% on the held-out part) is not met yet:
# this step prints the figures and fails only below what is reached now (README, Red flags).
step "red-flag corpus: both detectors, held-out and training parts, English then Spanish"
.venv/bin/python -m scripts.red_flag_report --min-recall 0.96 --max-false-rate 0.065

step "pytest"
.venv/bin/python -m pytest --durations=25

# Five-fold cross-validation, not one 20% split: with 6-15 test sentences an intent, one split's
# figures moved by 0.03 (weighted) and 0.2 (an intent) when a few examples were added elsewhere.
# Seeded folds, test parts only (see the script).
step "NLU five-fold cross-validation"
rm -rf results/nlu
.venv/bin/python -m scripts.cross_validate results/nlu
# Spanish does not meet the bar yet (issue 19; measured 0.888 weighted, lowest intent 0.789), nor
# English since 2026-12-07's harder examples (0.940; the sentences of before: 0.955, was 0.954): their
# figures are printed against it, and only a drop below the floor fails (README, Tests).
.venv/bin/python -m scripts.check_nlu_report results/nlu --min-weighted-f1 0.95 --min-intent-f1 0.85 \
  --floor en=0.93,0.85 --floor es=0.88,0.78

step "test stories (any wrong prediction fails)"
$rasa test core --stories tests/test_stories.yml --model models/current.tar.gz --out results/core \
  --fail-on-prediction-errors --no-plot
step "done"
