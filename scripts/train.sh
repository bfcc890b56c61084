#!/usr/bin/env bash
# Train only when the model's inputs changed: the model is named by a hash of everything that
# shapes it, and models/current points at the one for the current inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs=(config.yml domain.yml scripts/build_multilingual_encoder.py data/*.yml data/nlu/*.yml data/nlu/es/*.yml components/*.py botox_clinic/red_flags.py botox_clinic/language.py botox_clinic/settings.py clinic/red_flags.yml
        scripts/build_spacy_pipeline.py scripts/build_sentence_encoder.py requirements/requirements.lock requirements/model.lock)
hash=$(cat "${inputs[@]}" | sha256sum | cut -c1-16)
model="models/$hash.tar.gz"
if [[ -f "$model" ]]; then
  echo "model up to date: $model"
else
  echo "training $model"
  .venv/bin/rasa train --fixed-model-name "$hash" --out models --quiet
fi
ln -sfn "$hash.tar.gz" models/current.tar.gz
