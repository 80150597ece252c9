"""Fusing a hybrid query's dense and sparse result lists (docs/api.md#fusion)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60


def reciprocal_rank_fusion(ranked: Sequence[Sequence[int]]) -> dict[int, float]:
    """RRF: each list adds 1 / (60 + rank), rank counted from 0."""
    fused: dict[int, float] = {}
    for keys in ranked:
        for rank, key in enumerate(keys):
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
    return fused


def distribution_based_score_fusion(scored: Sequence[Sequence[tuple[int, float]]]) -> dict[int, float]:
    """DBSF: each list's scores map through (s - (μ - 3σ)) / 6σ, σ the sample deviation;
    a one-element (or flat) list maps to 0.5.

    Computed in double precision and rounded once on output: a two-element list's top
    entry is then 0.5 + √2/12 = 0.6178511 whatever the scores. (The hosted service shows
    0.617851, a float32 rounding of the same figure; float32 arithmetic here drifts by up
    to 5e-6 when the two scores are close.)"""
    fused: dict[int, float] = {}
    for entries in scored:
        if not entries:
            continue
        scores = np.array([score for _, score in entries], dtype=np.float64)
        std = float(scores.std(ddof=1)) if len(scores) > 1 else 0.0
        if std == 0.0:
            normalised = np.full(len(scores), 0.5)
        else:
            low = float(scores.mean()) - 3.0 * std
            normalised = (scores - low) / (6.0 * std)
        for (key, _), value in zip(entries, normalised, strict=True):
            fused[key] = fused.get(key, 0.0) + float(value)
    return fused


def fuse(
    algorithm: str, dense: Sequence[tuple[int, float]], sparse: Sequence[tuple[int, float]]
) -> list[tuple[int, float]]:
    """The fused (key, score) list, best first; ties keep insertion order (smaller key)."""
    if algorithm == "DBSF":
        fused = distribution_based_score_fusion([dense, sparse])
    else:
        fused = reciprocal_rank_fusion([[key for key, _ in dense], [key for key, _ in sparse]])
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
