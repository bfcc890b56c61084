"""Sentence embeddings from a pretrained encoder run with ONNX Runtime: all-MiniLM-L6-v2
(English) or Universal Sentence Encoder multilingual v3 (16 languages, Spanish among them).

Why this exists: count features only know the words seen in training, so "does it sting" and
"will it hurt" look unrelated to them. A pretrained sentence encoder knows they are close. Each
model (its forward pass as an ONNX graph, and its tokenizer) is built from the weights at install
time: scripts/build_sentence_encoder.py (MiniLM) and scripts/build_multilingual_encoder.py (USE).
Why ONNX Runtime and not NumPy, as before: OpenBLAS is slow for a message's few rows against a wide
matrix (it copies operands into blocks on every call); the same MiniLM graph took 10.6 ms a message
in NumPy and takes about 3 here, with the same vectors.

Which graph a directory holds is said by its encoder.json (written by the builder): "input":
"batch" is a graph over a padded batch (input_ids, attention_mask: batch x length), run once per
batch of texts; a directory without the file is the MiniLM builder's, a graph over one text's ids
(length), run once per text (its attention would need a mask to batch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence

import numpy as np

# Padded tokens per ONNX Runtime call for a batch graph. Texts are sorted by length first, so
# little of it is padding. Measured on the NLU examples: 0.32 ms a text (0.52 one call each); from
# 256 to 4096 tokens about the same.
_BATCH_TOKENS = 1024


class SentenceEncoder:
    """Encodes texts into L2-normalised vectors (384 dimensions for MiniLM, 512 for USE)."""

    def __init__(self, directory: Path) -> None:
        """`directory`: what a builder wrote (model.onnx, tokenizer.json, for USE encoder.json)."""
        import onnxruntime
        from tokenizers import Tokenizer

        config_file = directory / "encoder.json"
        config = json.loads(config_file.read_text()) if config_file.exists() else {"input": "single"}
        if config["input"] not in ("single", "batch"):
            raise ValueError(f"{config_file}: unknown input {config['input']!r}")
        self.name = config.get("name", "all-MiniLM-L6-v2")
        self._batched = config["input"] == "batch"
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # What the tokenizer gives for a text with nothing in it (only its special tokens), and what
        # the model's own implementation uses instead, if it differs (USE: <s> <unk> </s>).
        self._no_text_ids = self._tokenizer.encode("").ids
        self._blank_text_ids = config.get("blank_text_ids")
        options = onnxruntime.SessionOptions()
        # One thread, like OpenBLAS in every server process: a second one spins and starves the
        # other processes on a 2-core machine.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(directory / "model.onnx"), options,
                                                     providers=["CPUExecutionProvider"])
        self.dimension = self._session.get_outputs()[0].shape[-1]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised vector per text (shape: len(texts) x dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ids = [self._ids(text) for text in texts]
        if not self._batched:
            vectors = np.stack([self._session.run(None, {"input_ids": np.array(one, dtype=np.int64)})[0]
                                for one in ids])
        else:
            vectors = np.empty((len(ids), self.dimension), dtype=np.float32)
            for batch in self._batches(ids):
                vectors[batch] = self._run_batch([ids[i] for i in batch])
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return (vectors / norms).astype(np.float32)

    def _ids(self, text: str) -> List[int]:
        ids = self._tokenizer.encode(text).ids
        return self._blank_text_ids if self._blank_text_ids and ids == self._no_text_ids else ids

    @staticmethod
    def _batches(ids: List[List[int]]) -> List[List[int]]:
        """Indices of the texts, shortest first, cut into batches of at most _BATCH_TOKENS padded
        tokens (a longer text is a batch of its own)."""
        batches: List[List[int]] = []
        batch: List[int] = []
        for index in sorted(range(len(ids)), key=lambda i: len(ids[i])):
            # sorted, so this text is the batch's longest
            if batch and (len(batch) + 1) * len(ids[index]) > _BATCH_TOKENS:
                batches.append(batch)
                batch = []
            batch.append(index)
        return batches + [batch]

    def _run_batch(self, ids: List[List[int]]) -> np.ndarray:
        length = max(map(len, ids))
        input_ids = np.zeros((len(ids), length), dtype=np.int64)
        mask = np.zeros((len(ids), length), dtype=np.int64)
        for row, one in enumerate(ids):
            input_ids[row, :len(one)] = one
            mask[row, :len(one)] = 1
        return self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
