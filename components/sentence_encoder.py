"""Sentence embeddings from all-MiniLM-L6-v2, run with ONNX Runtime.

Why this exists: count features only know the words seen in training, so "does it sting" and
"will it hurt" look unrelated to them. A pretrained sentence encoder knows they are close. The
model (its forward pass as an ONNX graph, and its tokenizer) is built from the weights by
scripts/build_sentence_encoder.py at install time. Why ONNX Runtime and not NumPy, as before:
OpenBLAS is slow for a message's few rows against a wide matrix (it copies operands into blocks
on every call); the same graph took 10.6 ms a message in NumPy and takes about 3 here, with the
same vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


class SentenceEncoder:
    """Encodes texts into L2-normalised 384-dimensional vectors (the model's own pooling)."""

    def __init__(self, directory: Path) -> None:
        """`directory`: what scripts/build_sentence_encoder.py built (model.onnx, tokenizer.json)."""
        import onnxruntime
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        options = onnxruntime.SessionOptions()
        # One thread, like OpenBLAS in every server process: a second one spins and starves the
        # other processes on a 2-core machine.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(directory / "model.onnx"), options,
                                                     providers=["CPUExecutionProvider"])
        self.dimension = self._session.get_outputs()[0].shape[0]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised vector per text (shape: len(texts) x 384)."""
        return np.stack([self._encode_one(text) for text in texts]) if texts else np.zeros(
            (0, self.dimension), dtype=np.float32
        )

    def _encode_one(self, text: str) -> np.ndarray:
        ids = np.array(self._tokenizer.encode(text).ids, dtype=np.int64)
        pooled = self._session.run(None, {"input_ids": ids})[0]
        return (pooled / max(np.linalg.norm(pooled), 1e-12)).astype(np.float32)
