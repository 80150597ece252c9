"""Fusing a hybrid query's dense and sparse result lists (docs/api.md#fusion).

The hosted service fuses in 32-bit floats, and clients compare its scores exactly, so the
arithmetic here is float32 step by step, in the order the hosted formulas are written:
its published figures (RRF 0.033333335 and 0.032795697, a two-candidate DBSF top of
0.617851 where double precision gives 0.61785114) come out digit for digit. The dense
scores fused are also computed as the hosted service computes them: dot products and
norms accumulated in float32, the rest in double (`fusion_dense_scores`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

RRF_K = 60

F32 = np.float32
Float32Array = npt.NDArray[np.float32]


def reciprocal_rank_fusion(ranked: Sequence[Sequence[int]]) -> dict[int, float]:
    """RRF: each list adds 1 / (60 + rank), rank counted from 0, in float32."""
    fused: dict[int, np.float32] = {}
    for keys in ranked:
        for rank, key in enumerate(keys):
            fused[key] = F32(fused.get(key, F32(0.0)) + F32(1.0) / F32(RRF_K + rank))
    return {key: float(value) for key, value in fused.items()}


def _sequential_sum(values: Float32Array) -> np.float32:
    """The float32 sum taken left to right (numpy's own sum is pairwise)."""
    return F32(np.add.accumulate(values, dtype=np.float32)[-1]) if len(values) else F32(0.0)


def dbsf_normalised(scores: Sequence[float]) -> list[float]:
    """DBSF's mapping of one list, in float32: (s - (μ - 3σ)) / ((μ + 3σ) - (μ - 3σ)), σ
    the sample deviation (n - 1) by two passes; one candidate, or σ = 0, maps to 0.5."""
    values = np.asarray(scores, dtype=np.float32)
    if len(values) < 2:
        return [0.5] * len(values)
    mean = F32(_sequential_sum(values) / F32(len(values)))
    deviations = (values - mean).astype(np.float32)
    variance = F32(_sequential_sum((deviations * deviations).astype(np.float32)) / F32(len(values) - 1))
    std = F32(np.sqrt(variance))
    if std == 0.0:
        return [0.5] * len(values)
    low = F32(mean - F32(F32(3.0) * std))
    high = F32(mean + F32(F32(3.0) * std))
    span = F32(high - low)
    return [float(F32(F32(value - low) / span)) for value in values]


def distribution_based_score_fusion(scored: Sequence[Sequence[tuple[int, float]]]) -> dict[int, float]:
    """DBSF: each list's scores are normalised (`dbsf_normalised`) and summed per key, in float32."""
    fused: dict[int, np.float32] = {}
    for entries in scored:
        normalised = dbsf_normalised([score for _, score in entries])
        for (key, _), value in zip(entries, normalised, strict=True):
            fused[key] = F32(fused.get(key, F32(0.0)) + F32(value))
    return {key: float(value) for key, value in fused.items()}


def fuse(
    algorithm: str, dense: Sequence[tuple[int, float]], sparse: Sequence[tuple[int, float]]
) -> list[tuple[int, float]]:
    """The fused (key, score) list, best first; ties keep insertion order (smaller key)."""
    if algorithm == "DBSF":
        fused = distribution_based_score_fusion([dense, sparse])
    else:
        fused = reciprocal_rank_fusion([[key for key, _ in dense], [key for key, _ in sparse]])
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fusion_dense_scores(
    similarity: str, query: Sequence[float], vectors: Mapping[int, Sequence[float]]
) -> dict[int, float]:
    """Dense scores as the hosted service computes the ones it fuses: products, dot
    products and squared norms accumulated left to right in float32, the normalisation
    ((1 + cos) / 2, 1 / (1 + d²), (1 + a·b) / 2) in double, rounded once to float32.
    An exact copy of the query still scores 1 under COSINE: its dot product and both
    squared norms are the same float32 number S, and S / sqrt(S · S) is exactly 1."""
    if not vectors:
        return {}
    keys = list(vectors)
    matrix = np.array([vectors[key] for key in keys], dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)

    def accumulated(products: Float32Array) -> npt.NDArray[np.float64]:
        return np.add.accumulate(products, axis=1, dtype=np.float32)[:, -1].astype(np.float64)

    if similarity == "EUCLIDEAN":
        difference = (matrix - q).astype(np.float32)
        scores = 1.0 / (1.0 + accumulated((difference * difference).astype(np.float32)))
    else:
        dots = accumulated((matrix * q).astype(np.float32))
        if similarity == "COSINE":
            query_norm = float(_sequential_sum((q * q).astype(np.float32)))
            norms = np.sqrt(accumulated((matrix * matrix).astype(np.float32)) * query_norm)
            scores = (1.0 + np.clip(dots / np.where(norms == 0, 1.0, norms), -1.0, 1.0)) / 2.0
        else:
            scores = (1.0 + dots) / 2.0
    return {key: float(F32(score)) for key, score in zip(keys, scores, strict=True)}
