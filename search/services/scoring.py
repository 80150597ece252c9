"""Scores as clients see them (docs/api.md#dense-scores): 1 is most similar, computed in double
precision from the stored float32 vectors, printed as float32."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from django.db.models import TextField
from django.db.models.functions import Cast

from search.models import Similarity, Vector


def float32(value: float) -> float:
    """The double whose shortest repr is the float32's shortest repr (0.1, not 0.100000001)."""
    return float(str(np.float32(value)))


def score_from_distance(similarity: str, distance: float) -> float:
    """The normalised score from pgvector's distance (float32 arithmetic: a fallback)."""
    if similarity == Similarity.COSINE:
        return min(1.0, max(0.0, 1.0 - distance / 2.0))
    if similarity == Similarity.EUCLIDEAN:
        return 1.0 / (1.0 + distance * distance)
    return (1.0 - distance) / 2.0  # `<#>` is the negated inner product


def exact_dense_scores(
    similarity: str, query: Sequence[float], vectors: Mapping[int, Sequence[float]]
) -> dict[int, float]:
    """Scores of these vectors against the query, in double precision over float32 inputs.

    pgvector accumulates in float32, which moves the last printed digit (EUCLIDEAN 1/1.8
    would read 0.5555555, not 0.5555556)."""
    if not vectors:
        return {}
    keys = list(vectors)
    matrix = np.array([vectors[key] for key in keys], dtype=np.float32).astype(np.float64)
    q = np.asarray(query, dtype=np.float32).astype(np.float64)
    if similarity == Similarity.COSINE:
        # Every sum taken the same way, and one square root of the product of the squared
        # norms (as pgvector does): for an exact copy of the query, dot product and both
        # squared norms are the same number S, and S / sqrt(S * S) is exactly 1.
        dots = (matrix * q).sum(axis=1)
        norms = np.sqrt((matrix * matrix).sum(axis=1) * (q * q).sum())
        cosine = np.clip(dots / np.where(norms == 0, 1.0, norms), -1.0, 1.0)
        scores = (1.0 + cosine) / 2.0
    elif similarity == Similarity.EUCLIDEAN:
        scores = 1.0 / (1.0 + np.sum((matrix - q) ** 2, axis=1))
    else:
        scores = (1.0 + matrix @ q) / 2.0
    return {key: float(score) for key, score in zip(keys, scores, strict=True)}


DenseScorer = Callable[[str, Sequence[float], Mapping[int, Sequence[float]]], dict[int, float]]


def stored_dense_scores(
    similarity: str, query: Sequence[float], pks: Sequence[int], scorer: DenseScorer = exact_dense_scores
) -> dict[int, float]:
    """`exact_dense_scores` (or another scorer) for stored records, their vectors read in one query."""
    if not pks:
        return {}
    rows = Vector.objects.filter(pk__in=pks).annotate(text=Cast("embedding", TextField())).values_list("pk", "text")
    return scorer(similarity, query, {pk: json.loads(text) for pk, text in rows if text})
