"""Ranking by the score clients see, exactly, on top of pgvector's float32 distances.

Candidates are found (and buffered) in pgvector's distance order, which pgvector
accumulates in float32; clients see dense scores computed in double precision from the
stored vectors (docs/api.md#dense-scores). Where two scores lie within float32 rounding
of each other the two orders can disagree. So candidates are ranked by (score, row) once
loaded, and a candidate is handed out only when nothing not yet read can outrank it:
its score must exceed the `bound`, the best score a candidate further down pgvector's
order could have (its distance's score plus the float32 error that distance may carry).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from search.models import Candidate, Similarity
from search.services.records import StoredRecord
from search.services.scoring import score_from_distance

FLOAT32_UNIT_ROUNDOFF = 2.0**-24
DOUBLE_SLACK = 1e-12


class Ranked(Protocol):
    """What ranking needs of a scored candidate."""

    @property
    def candidate(self) -> Candidate: ...

    @property
    def score(self) -> float: ...

    @property
    def pk(self) -> int: ...


R = TypeVar("R", bound=Ranked)


@dataclass(frozen=True)
class Hit:
    """A candidate with its live record, scored."""

    candidate: Candidate
    record: StoredRecord
    score: float

    @property
    def pk(self) -> int:
        return self.candidate.pk


@dataclass(frozen=True)
class KnownScore:
    """A buffered candidate scored by an earlier read, its record not loaded."""

    candidate: Candidate
    score: float

    @property
    def pk(self) -> int:
        return self.candidate.pk


def ranked(hits: Iterable[R]) -> list[R]:
    """Best first. Equal scores (most often 1.0 after clipping) go by pgvector's distance,
    so an exact copy of the query (distance 0) comes before a vector whose score merely
    rounds to 1, and then by insertion order (the smaller row id first)."""
    return sorted(hits, key=lambda hit: (-hit.score, hit.candidate.distance, hit.pk))


def above(ranked_hits: Sequence[R], bound: float | None) -> list[R]:
    """The leading hits that score strictly more than `bound` (all of them for None)."""
    if bound is None:
        return list(ranked_hits)
    safe = []
    for hit in ranked_hits:
        if hit.score <= bound:
            break
        safe.append(hit)
    return safe


def dense_score_bound(
    similarity: str, dimension: int, query: Sequence[float], distance: float, row_norm: float
) -> float:
    """The highest double-precision score a vector can have whose pgvector distance to the
    query is at least `distance`.

    pgvector sums `dimension` float32 products; each sum is off by at most
    gamma = n*u / (1 - n*u) of the sum of the magnitudes of its terms (u = 2**-24).
    COSINE: the dot product is off by at most gamma*|q|*|v| and each squared norm by a
    factor within 1 +- gamma, so the cosine (their quotient, in double) is off by at most
    2*gamma / (1 - gamma), and the score, (1 + cosine) / 2, by half that. EUCLIDEAN: a
    score moves by under gamma; DOT_PRODUCT by under gamma*|q|*|v| / 2, where |v| is
    bounded by `row_norm` (the largest norm among the vectors at hand, at least 1;
    DOT_PRODUCT indexes are meant for unit vectors, docs/api.md#dense-scores). The double
    arithmetic on either side adds far less than DOUBLE_SLACK."""
    n = dimension * FLOAT32_UNIT_ROUNDOFF
    gamma = n / (1.0 - n)
    if similarity == Similarity.COSINE:
        slack = gamma / (1.0 - gamma) + DOUBLE_SLACK
    elif similarity == Similarity.EUCLIDEAN:
        slack = gamma
    else:
        slack = gamma * float(np.linalg.norm(np.asarray(query, dtype=np.float64))) * max(1.0, row_norm)
    return score_from_distance(similarity, distance) + slack
