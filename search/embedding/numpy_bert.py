"""The BERT encoder in plain numpy: the reference runtime, and the fallback where
onnxruntime is not installed (``VECSITE_EMBEDDING_RUNTIME=numpy``).

It is a few times slower than the ONNX Runtime graph (``onnx_bert``), which computes the
same function; ``bench/embedding.py`` also runs its padded-batch path as the "before"
configuration of the benchmark. Its matrix products run on numpy's BLAS threads, which
may split a product differently with another thread count (``OPENBLAS_NUM_THREADS``): two
processes agree bit for bit only with the same count, and to within a score of exactly 1
otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .files import BertConfig, FloatArray, weight

IntArray = npt.NDArray[np.int64]

# Additive attention bias for padded keys. HF BERT uses finfo(float32).min; any
# large negative value gives exp() == 0 in float32, and a finite one avoids
# inf - inf = nan in the softmax max-subtraction.
_MASK_BIAS = np.float32(-1e9)


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


class NumpyBert:
    """Last hidden states of a BERT-family encoder, computed with numpy and its BLAS.

    Thread-safe: the weights are read-only after construction.
    """

    def __init__(self, config: BertConfig, weights: Mapping[str, FloatArray]) -> None:
        self.config = config
        self._act = _ACTIVATIONS[config.hidden_act]
        h = config.hidden_size

        def dense_t(key: str) -> FloatArray:
            return np.ascontiguousarray(weight(weights, key).T)

        self._word_emb = weight(weights, "embeddings.word_embeddings.weight")
        self._pos_emb = weight(weights, "embeddings.position_embeddings.weight")
        # Single-sentence inputs always have token_type_id 0.
        self._type0_emb = weight(weights, "embeddings.token_type_embeddings.weight")[0]
        self._emb_ln_w = weight(weights, "embeddings.LayerNorm.weight")
        self._emb_ln_b = weight(weights, "embeddings.LayerNorm.bias")

        # 1/sqrt(head_dim) is folded into the query projection (saves a pass per layer).
        scale = np.float32(1.0 / math.sqrt(config.head_dim))
        layers: list[_Layer] = []
        for i in range(config.num_layers):
            p = f"encoder.layer.{i}."
            a = p + "attention.self."
            qkv_w = np.concatenate([dense_t(a + n + ".weight") for n in ("query", "key", "value")], axis=1)
            qkv_b = np.concatenate([weight(weights, a + n + ".bias") for n in ("query", "key", "value")])
            qkv_w[:, :h] *= scale
            qkv_b[:h] *= scale
            layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(qkv_w),
                    qkv_b=qkv_b,
                    attn_out_w=dense_t(p + "attention.output.dense.weight"),
                    attn_out_b=weight(weights, p + "attention.output.dense.bias"),
                    attn_ln_w=weight(weights, p + "attention.output.LayerNorm.weight"),
                    attn_ln_b=weight(weights, p + "attention.output.LayerNorm.bias"),
                    inter_w=dense_t(p + "intermediate.dense.weight"),
                    inter_b=weight(weights, p + "intermediate.dense.bias"),
                    out_w=dense_t(p + "output.dense.weight"),
                    out_b=weight(weights, p + "output.dense.bias"),
                    out_ln_w=weight(weights, p + "output.LayerNorm.weight"),
                    out_ln_b=weight(weights, p + "output.LayerNorm.bias"),
                )
            )
        self._layers = tuple(layers)

    def hidden_states(self, ids: Sequence[int]) -> FloatArray:
        """One sequence, no padding: shape (len(ids), hidden)."""
        input_ids = np.asarray(ids, dtype=np.int64)[None, :]
        hidden: FloatArray = self.forward_padded(input_ids, None)[0]
        return hidden

    def forward_padded(self, input_ids: IntArray, mask: FloatArray | None) -> FloatArray:
        """A padded batch, shape (batch, seq, hidden); ``mask`` is 1 for real tokens.

        Rows of a batch are not bit-identical to the same sequence alone (BLAS rounds by
        a row's position in the matrix), which is why the encoder never batches; this
        path is kept for the benchmark's "before" configuration.
        """
        cfg = self.config
        batch, seq_len = input_ids.shape
        heads, head_dim, width = cfg.num_heads, cfg.head_dim, cfg.hidden_size
        eps = cfg.layer_norm_eps

        x = self._word_emb[input_ids]  # fresh array from the gather
        x += self._pos_emb[cfg.position_offset : cfg.position_offset + seq_len]
        x += self._type0_emb
        x = _layer_norm_inplace(x.reshape(batch * seq_len, width), self._emb_ln_w, self._emb_ln_b, eps)

        bias = None if mask is None else ((np.float32(1.0) - mask) * _MASK_BIAS)[:, None, None, :]  # (B,1,1,L)

        for layer in self._layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            # (B*L, 3H) -> (3, B, heads, L, head_dim); q is pre-scaled by 1/sqrt(head_dim)
            qkv = qkv.reshape(batch, seq_len, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            scores = np.matmul(qkv[0], qkv[1].transpose(0, 1, 3, 2))  # (B, heads, L, L)
            if bias is not None:
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
