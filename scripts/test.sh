#!/usr/bin/env bash
# Every check, in order of cost. Each failing step fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# No telemetry or crash reports leave the machine.
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
rasa=.venv/bin/rasa

echo "== data validation (warnings fail)"
$rasa data validate --fail-on-warnings --quiet

echo "== pytest"
.venv/bin/python -m pytest

echo "== NLU on a held-out 20% split (fixed seed)"
split=build/nlu_split
rm -rf "$split" results/nlu
$rasa data split nlu --nlu data/nlu.yml --training-fraction 0.8 --random-seed 42 --out "$split"
$rasa train nlu --nlu "$split/training_data.yml" --out "$split/model" --fixed-model-name heldout --quiet
$rasa test nlu --nlu "$split/test_data.yml" --model "$split/model/heldout.tar.gz" --out results/nlu --no-plot
.venv/bin/python scripts/check_nlu_report.py results/nlu/intent_report.json --min-weighted-f1 0.92 --min-intent-f1 0.65

echo "== test stories (any wrong prediction fails)"
$rasa test core --stories tests/test_stories.yml --model models/current.tar.gz --out results/core \
  --fail-on-prediction-errors --no-plot
