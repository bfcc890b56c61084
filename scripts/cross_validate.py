"""Five-fold cross-validation of the NLU pipeline: the test-fold results of `rasa test nlu
--cross-validation`, written where that command writes them, in less time (README, Tests).

usage: python -m scripts.cross_validate OUT_DIR

It takes Rasa's own steps (the same data loading and stratified folds, train_nlu, the same
evaluation of each test fold and evaluate_intents' reports), with three differences:
- Seeded folds: Rasa shuffles them with NumPy's global generator and its CLI takes no seed. Seed 0
  was fixed before measuring, so every run, and CI, measures the same folds.
- No predictions on each fold's training part: Rasa predicts all of it (four fifths of the data)
  for train-fold averages it only logs; scripts/check_nlu_report.py reads the test folds alone.
- The folds run in parallel, one process a core, each with a training cache of its own (Rasa's is
  one SQLite file) and each text's sentence embeddings computed once for all its folds (the
  encoders are deterministic). The intent classifier's fit is most of a fold's time.
Entity extraction is not evaluated: no entity is learned (RegexEntityExtractor's lookup tables).
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

FOLDS = 5
SEED = 0
CONFIG = "config.yml"
DATA = "data/nlu"


def _remembering(encode):
    remembered: Dict[Tuple[str, str], np.ndarray] = {}

    def encode_once(self, texts: Sequence[str]) -> np.ndarray:
        new = [text for text in dict.fromkeys(texts) if (self.name, text) not in remembered]
        for text, vector in zip(new, encode(self, new)):
            remembered[self.name, text] = vector
        if not texts:
            return encode(self, texts)
        return np.stack([remembered[self.name, text] for text in texts])
    return encode_once


def _start_worker(cache_root: str) -> None:
    os.environ["RASA_CACHE_DIRECTORY"] = tempfile.mkdtemp(dir=cache_root)
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from components.sentence_encoder import SentenceEncoder

    # As the rasa command sets them up (a spawned process starts without): no per-message debug lines.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    SentenceEncoder.encode = _remembering(SentenceEncoder.encode)


def _test_fold(fold: Tuple[int, object, object]) -> list:
    """The intent results (IntentEvaluationResult) of one fold's test part, from a model trained on
    its training part."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.nlu.test import combine_result
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

    number, train, test = fold
    with tempfile.TemporaryDirectory() as directory:
        training_file = Path(directory) / "training_data.yml"
        RasaYAMLWriter().dump(training_file, train)
        processor = Agent.load(train_nlu(CONFIG, str(training_file), directory)).processor
        intent_results: List = []
        metrics = (defaultdict(list), defaultdict(lambda: defaultdict(list)), defaultdict(list))
        asyncio.run(combine_result(*metrics, processor, test, intent_results, [], []))
    print(f"fold {number + 1}/{FOLDS}: {len(intent_results)} test sentences", flush=True)
    return intent_results


def main(out: str) -> None:
    from rasa.nlu.test import drop_intents_below_freq, evaluate_intents, generate_folds
    from rasa.shared.importers.importer import TrainingDataImporter

    data = TrainingDataImporter.load_from_dict(training_data_paths=[DATA]).get_nlu_data()
    np.random.seed(SEED)
    folds = [(number, train, test) for number, (train, test)
             in enumerate(generate_folds(FOLDS, drop_intents_below_freq(data, cutoff=FOLDS)))]
    Path(out).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as cache_root, ProcessPoolExecutor(
            max_workers=min(FOLDS, os.cpu_count() or 1), mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(cache_root,)) as pool:
        results = [result for fold in pool.map(_test_fold, folds) for result in fold]
    evaluate_intents(results, out, successes=True, errors=True, disable_plotting=True, report_as_dict=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
