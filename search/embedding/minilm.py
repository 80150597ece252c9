"""A torch-free BERT encoder (numpy + safetensors + tokenizers) for MiniLM models.

Reproduces the sentence-transformers pipeline of all-MiniLM-L6-v2:
``Transformer -> mean Pooling (attention-masked) -> Normalize``.

Everything is read from a local model directory (the layout sentence-transformers
uses: ``config.json``, ``model.safetensors``, ``tokenizer.json``,
``sentence_bert_config.json``, ``1_Pooling/config.json``); nothing is downloaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Additive attention bias for padded keys. HF BERT uses finfo(float32).min; any
# large negative value gives exp() == 0 in float32, and a finite one avoids
# inf - inf = nan in the softmax max-subtraction.
_MASK_BIAS = np.float32(-1e9)


class ModelFilesError(RuntimeError):
    """The model directory is missing files or has an unsupported configuration."""


@dataclass(frozen=True)
class BertConfig:
    """The subset of HF ``config.json`` the forward pass needs."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    layer_norm_eps: float
    max_position_embeddings: int
    hidden_act: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BertConfig:
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise ModelFilesError("only absolute position embeddings are supported")
        act = data.get("hidden_act", "gelu")
        if act not in _ACTIVATIONS:
            raise ModelFilesError(f"unsupported hidden_act {act!r}")
        return cls(
            hidden_size=int(data["hidden_size"]),
            num_layers=int(data["num_hidden_layers"]),
            num_heads=int(data["num_attention_heads"]),
            intermediate_size=int(data["intermediate_size"]),
            layer_norm_eps=float(data["layer_norm_eps"]),
            max_position_embeddings=int(data["max_position_embeddings"]),
            hidden_act=act,
        )


@dataclass(frozen=True)
class _Layer:
    """One encoder layer; dense weights are stored transposed (in, out) for ``x @ w``."""

    qkv_w: FloatArray  # (H, 3H): query|key|value fused into one GEMM, query pre-scaled
    qkv_b: FloatArray
    attn_out_w: FloatArray
    attn_out_b: FloatArray
    attn_ln_w: FloatArray
    attn_ln_b: FloatArray
    inter_w: FloatArray
    inter_b: FloatArray
    out_w: FloatArray
    out_b: FloatArray
    out_ln_w: FloatArray
    out_ln_b: FloatArray


# Abramowitz & Stegun 7.1.26 erfc approximation (|error| < 1.5e-7, i.e. float32
# resolution), pre-scaled for GELU: 0.5 * erfc(|x|/sqrt2) = t*poly(t) * exp(-x^2/2)
# with t = 1 / (1 + p|x|/sqrt2). numpy has no erf and scipy is too heavy for one
# function.
_ERF_P = np.float32(0.3275911 / math.sqrt(2.0))
_ERF_A = tuple(np.float32(0.5 * c) for c in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
# Elements per block: the three float32 scratch buffers stay in L2 cache, which
# makes this ~4x faster than whole-array numpy expressions.
_GELU_BLOCK = 65536


def _gelu_inplace(x: FloatArray) -> FloatArray:
    """Exact (erf) GELU, which is what HF's ``hidden_act: "gelu"`` means; in place.

    Uses gelu(x) = x * Phi(x) = max(x, 0) - |x| * 0.5 * erfc(|x| / sqrt2).
    """
    if not x.flags.c_contiguous:  # reshape would copy and the result would be lost
        raise ValueError("_gelu_inplace needs a C-contiguous array")
    flat = x.reshape(-1)
    size = min(_GELU_BLOCK, flat.size)
    a_buf = np.empty(size, dtype=np.float32)
    t_buf = np.empty(size, dtype=np.float32)
    q_buf = np.empty(size, dtype=np.float32)
    a0, a1, a2, a3, a4 = _ERF_A
    for start in range(0, flat.size, _GELU_BLOCK):
        xs = flat[start : start + _GELU_BLOCK]
        n = xs.size
        a, t, q = a_buf[:n], t_buf[:n], q_buf[:n]
        np.abs(xs, out=a)
        np.multiply(a, _ERF_P, out=t)
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        np.multiply(t, a4, out=q)  # Horner: t*(a0 + t*(a1 + t*(a2 + t*(a3 + t*a4))))
        q += a3
        q *= t
        q += a2
        q *= t
        q += a1
        q *= t
        q += a0
        q *= t
        np.multiply(a, a, out=t)
        t *= np.float32(-0.5)
        np.exp(t, out=t)
        q *= t
        q *= a
        np.maximum(xs, np.float32(0.0), out=xs)
        xs -= q
    return x


def _gelu_tanh_inplace(x: FloatArray) -> FloatArray:
    c = np.float32(math.sqrt(2.0 / math.pi))
    inner = np.tanh(c * (x + np.float32(0.044715) * x**3))
    inner += np.float32(1.0)
    x *= inner
    x *= np.float32(0.5)
    return x


def _relu_inplace(x: FloatArray) -> FloatArray:
    return np.maximum(x, np.float32(0.0), out=x)


# In-place activations keyed by HF's ``hidden_act``.
_ACTIVATIONS: dict[str, Callable[[FloatArray], FloatArray]] = {
    "gelu": _gelu_inplace,
    "gelu_new": _gelu_tanh_inplace,
    "gelu_pytorch_tanh": _gelu_tanh_inplace,
    "relu": _relu_inplace,
}


def _layer_norm_inplace(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float) -> FloatArray:
    """LayerNorm over the last axis of a 2-D array, overwriting ``x``."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var *= np.float32(1.0 / x.shape[-1])
    var += np.float32(eps)
    np.sqrt(var, out=var)
    x /= var
    x *= weight
    x += bias
    return x


def _softmax_inplace(x: FloatArray) -> FloatArray:
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


class MiniLMEmbedder:
    """Sentence embeddings from a BERT-family sentence-transformers model directory.

    Thread-safe after construction: weights are read-only arrays and the tokenizer
    is configured once here and afterwards only used through ``encode_batch``.
    """

    def __init__(self, model_dir: Path | str, *, name: str | None = None) -> None:
        model_dir = Path(model_dir)
        self.model_dir = model_dir
        self.name = name or model_dir.name
        self.config = BertConfig.from_json(_read_json(model_dir / "config.json"))
        cfg = self.config
        if cfg.hidden_size % cfg.num_heads:
            raise ModelFilesError("hidden_size is not a multiple of num_attention_heads")
        self._head_dim = cfg.hidden_size // cfg.num_heads
        self._act = _ACTIVATIONS[cfg.hidden_act]

        st_cfg = _read_json(model_dir / "sentence_bert_config.json", default={})
        self.max_seq_length = int(st_cfg.get("max_seq_length", cfg.max_position_embeddings))
        self.max_seq_length = min(self.max_seq_length, cfg.max_position_embeddings)
        self._do_lower_case = bool(st_cfg.get("do_lower_case", False))
        pooling = _read_json(model_dir / "1_Pooling" / "config.json", default={})
        if pooling and not pooling.get("pooling_mode_mean_tokens", False):
            raise ModelFilesError("only mean pooling is implemented")
        self.dimension = int(pooling.get("word_embedding_dimension", cfg.hidden_size))
        if self.dimension != cfg.hidden_size:
            raise ModelFilesError("pooling dimension differs from hidden_size")

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json ships with truncation/padding fixed at 128; sentence-transformers
        # overrides both per call (truncate at max_seq_length, pad to the longest).
        self._tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._tokenizer.no_padding()
        pad_id = self._tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad_id is None else pad_id

        self._load_weights(model_dir / "model.safetensors")

    def _load_weights(self, path: Path) -> None:
        if not path.is_file():
            raise ModelFilesError(f"missing weights file {path}")
        raw = load_file(str(path))
        # Some exports prefix every key with "bert." (BertForX); accept both.
        if "embeddings.word_embeddings.weight" not in raw:
            raw = {k.removeprefix("bert."): v for k, v in raw.items()}

        def get(key: str) -> FloatArray:
            try:
                return np.ascontiguousarray(raw[key], dtype=np.float32)
            except KeyError:
                raise ModelFilesError(f"weight {key!r} missing from {path}") from None

        def dense_t(key: str) -> FloatArray:
            return np.ascontiguousarray(get(key).T)

        cfg_h = self.config.hidden_size
        self._word_emb = get("embeddings.word_embeddings.weight")
        self._pos_emb = get("embeddings.position_embeddings.weight")
        # Single-sentence inputs always have token_type_id 0.
        self._type0_emb = get("embeddings.token_type_embeddings.weight")[0]
        self._emb_ln_w = get("embeddings.LayerNorm.weight")
        self._emb_ln_b = get("embeddings.LayerNorm.bias")

        # 1/sqrt(head_dim) is folded into the query projection (saves a pass per layer).
        scale = np.float32(1.0 / math.sqrt(self._head_dim))
        layers: list[_Layer] = []
        for i in range(self.config.num_layers):
            p = f"encoder.layer.{i}."
            a = p + "attention.self."
            qkv_w = np.concatenate([dense_t(a + n + ".weight") for n in ("query", "key", "value")], axis=1)
            qkv_b = np.concatenate([get(a + n + ".bias") for n in ("query", "key", "value")])
            qkv_w[:, :cfg_h] *= scale
            qkv_b[:cfg_h] *= scale
            layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(qkv_w),
                    qkv_b=qkv_b,
                    attn_out_w=dense_t(p + "attention.output.dense.weight"),
                    attn_out_b=get(p + "attention.output.dense.bias"),
                    attn_ln_w=get(p + "attention.output.LayerNorm.weight"),
                    attn_ln_b=get(p + "attention.output.LayerNorm.bias"),
                    inter_w=dense_t(p + "intermediate.dense.weight"),
                    inter_b=get(p + "intermediate.dense.bias"),
                    out_w=dense_t(p + "output.dense.weight"),
                    out_b=get(p + "output.dense.bias"),
                    out_ln_w=get(p + "output.LayerNorm.weight"),
                    out_ln_b=get(p + "output.LayerNorm.bias"),
                )
            )
        self._layers = tuple(layers)
        for arr in (self._word_emb, self._pos_emb, self._type0_emb):
            arr.flags.writeable = False

    # ------------------------------------------------------------------ public

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids with [CLS]/[SEP], truncated to ``max_seq_length``."""
        prepared = [str(t).strip() for t in texts]  # as sentence-transformers does
        if self._do_lower_case:
            prepared = [t.lower() for t in prepared]
        return [enc.ids for enc in self._tokenizer.encode_batch(prepared)]

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """Unit-length float32 embeddings, shape ``(len(texts), dimension)``.

        Every text is encoded on its own, unpadded, so its vector depends on the text
        alone: in a padded batch BLAS rounds a row by its position in the matrix (on
        some CPUs every run), and the same text would get vectors a few ulps apart
        depending on its batch companions. Alone, it always meets the same shapes and
        kernels, so it is bit-identical whether embedded alone or at any position of any
        batch, and identical texts score exactly 1. ``batch_size`` is checked and kept
        for callers; it no longer groups texts.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        rows: dict[tuple[int, ...], list[int]] = {}  # identical inputs are encoded once
        for row, row_ids in enumerate(self.tokenize(texts)):
            rows.setdefault(tuple(row_ids), []).append(row)
        for seq, where in rows.items():
            input_ids = np.asarray(seq, dtype=np.int64)[None, :]
            out[where] = self._encode_ids(input_ids, np.ones(input_ids.shape, dtype=np.float32))[0]
        return out

    # ---------------------------------------------------------------- internals

    def _encode_ids(self, input_ids: IntArray, mask: FloatArray) -> FloatArray:
        """Forward pass + masked mean pooling + L2 normalisation for one padded batch."""
        hidden = self._forward(input_ids, mask)
        summed = np.einsum("bld,bl->bd", hidden, mask)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled = summed / counts
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)

    def _forward(self, input_ids: IntArray, mask: FloatArray) -> FloatArray:
        """BERT encoder; returns the last hidden state, shape (batch, seq, hidden)."""
        cfg = self.config
        batch, seq_len = input_ids.shape
        heads, head_dim, width = cfg.num_heads, self._head_dim, cfg.hidden_size
        eps = cfg.layer_norm_eps

        x = self._word_emb[input_ids]  # fresh array from the gather
        x += self._pos_emb[:seq_len]
        x += self._type0_emb
        x = _layer_norm_inplace(x.reshape(batch * seq_len, width), self._emb_ln_w, self._emb_ln_b, eps)

        bias = ((np.float32(1.0) - mask) * _MASK_BIAS)[:, None, None, :]  # (B,1,1,L)

        for layer in self._layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            # (B*L, 3H) -> (3, B, heads, L, head_dim); q is pre-scaled by 1/sqrt(head_dim)
            qkv = qkv.reshape(batch, seq_len, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            scores = np.matmul(qkv[0], qkv[1].transpose(0, 1, 3, 2))  # (B, heads, L, L)
            scores += bias
            probs = _softmax_inplace(scores)
            ctx = np.matmul(probs, qkv[2])  # (B, heads, L, head_dim)
            ctx = ctx.transpose(0, 2, 1, 3).reshape(batch * seq_len, width)

            attn = ctx @ layer.attn_out_w
            attn += layer.attn_out_b
            attn += x
            x = _layer_norm_inplace(attn, layer.attn_ln_w, layer.attn_ln_b, eps)

            inter = x @ layer.inter_w
            inter += layer.inter_b
            inter = self._act(inter)
            out = inter @ layer.out_w
            out += layer.out_b
            out += x
            x = _layer_norm_inplace(out, layer.out_ln_w, layer.out_ln_b, eps)

        return x.reshape(batch, seq_len, width)


def _read_json(path: Path, default: dict[str, Any] | None = None) -> dict[str, Any]:
    if not path.is_file():
        if default is not None:
            return default
        raise ModelFilesError(f"missing model file {path}")
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ModelFilesError(f"{path} is not a JSON object")
    return data
