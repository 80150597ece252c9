"""What one query searches, and how: the dense side, the sparse side, or both, fused.

Namespaces of at most VECSITE_EXACT_SEARCH_MAX_VECTORS vectors are searched exactly: a
sequential scan is cheap there and has perfect recall. Larger ones go through the
index's partial HNSW index with pgvector's iterative scan (relaxed order, re-sorted),
so that a selective filter still fills the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from search.filtering import CompiledFilter
from search.models import (
    HNSW_MAX_EF_SEARCH,
    AnnScan,
    Candidate,
    Component,
    Index,
    Namespace,
    Similarity,
    Vector,
    Weighting,
)
from search.services import sparse as sparse_codec
from search.services.fusion import fusion_dense_scores
from search.services.ranking import Hit, above, dense_score_bound, ranked
from search.services.records import Include, SparseValue, StoredRecord
from search.services.scoring import exact_dense_scores, float32, score_from_distance, stored_dense_scores
from search.services.specs import QuerySpec
from search.services.vectors import records_by_pk

# Candidates read beyond the k asked for, so that near-ties at the edge rank exactly.
RANK_PAD = 8


def uses_exact_search(namespace: Namespace) -> bool:
    return namespace.vector_count <= settings.VECSITE_EXACT_SEARCH_MAX_VECTORS


# An iterative scan keeps what it has visited in memory, up to work_mem times
# hnsw.scan_mem_multiplier; past it the scan stops short. Large scans get 64 MB.
LARGE_SCAN_ROWS = 1_000
LARGE_SCAN_WORK_MEM = "32MB"
LARGE_SCAN_MEM_MULTIPLIER = 2


def ann_scan(limit: int, ef_search: int | None = None) -> AnnScan:
    """An HNSW scan wide enough for `limit` results."""
    large = limit > LARGE_SCAN_ROWS
    return AnnScan(
        ef_search=min(HNSW_MAX_EF_SEARCH, ef_search or max(settings.VECSITE_HNSW_EF_SEARCH, limit)),
        max_scan_tuples=max(20_000, 20 * limit),
        mem_multiplier=LARGE_SCAN_MEM_MULTIPLIER if large else 1,
        work_mem=LARGE_SCAN_WORK_MEM if large else None,
    )


@dataclass
class SearchPlan:
    """A resolved query (its text already embedded) against one existing namespace."""

    index: Index
    namespace: Namespace
    spec: QuerySpec

    @property
    def fused(self) -> bool:
        return self.spec.fused

    @property
    def single_component(self) -> Component:
        """The side a one-sided query searches."""
        return Component.DENSE if self.spec.vector is not None else Component.SPARSE

    @cached_property
    def sparse(self) -> SparseValue | None:
        """The sparse query, IDF-weighted when asked; computed only when searched."""
        if self.spec.sparse is not None and self.spec.weighting == Weighting.IDF:
            return sparse_codec.idf_weighted(self.namespace, self.spec.sparse)
        return self.spec.sparse

    def candidates(
        self, component: Component, *, limit: int, after: Candidate | None = None, exact: bool | None = None
    ) -> list[Candidate]:
        """This side's next `limit` candidates after `after`, nearest first."""
        rows = Vector.objects.in_namespace(self.namespace).matching(self.spec.filter)
        if component == Component.DENSE:
            assert self.spec.vector is not None
            ann = not (uses_exact_search(self.namespace) if exact is None else exact)
            rows = rows.with_dense_distance(self.index, self.spec.vector, ann=ann).after(after)
            return rows.nearest_ann(limit, ann_scan(limit)) if ann else rows.nearest(limit)
        assert self.sparse is not None
        indices = sparse_codec.non_zero_indices(self.sparse)
        if not indices:
            return []
        return rows.with_sparse_distance(sparse_codec.to_db(self.sparse), indices).after(after).nearest(limit)

    def hits(self, component: Component, candidates: Sequence[Candidate], *, recheck_filter: bool) -> list[Hit]:
        """The live records behind one side's candidates, scored, in candidate order.
        Dense scores are computed from the vectors loaded with the records (one query)."""
        include = self.spec.include
        compiled = self.spec.filter if recheck_filter else None
        if component == Component.SPARSE:
            found = records_by_pk((c.pk for c in candidates), include, compiled)
            return [Hit(c, found[c.pk], -c.distance) for c in candidates if c.pk in found]
        assert self.spec.vector is not None
        loading = Include(vectors=True, metadata=include.metadata, data=include.data)
        found = records_by_pk((c.pk for c in candidates), loading, compiled)
        exact = exact_dense_scores(
            self.index.similarity, self.spec.vector, {pk: r.vector for pk, r in found.items() if r.vector is not None}
        )
        hits = []
        for candidate in candidates:
            record = found.get(candidate.pk)
            if record is None:
                continue
            hits.append(
                Hit(
                    candidate,
                    record,
                    exact.get(candidate.pk, score_from_distance(self.index.similarity, candidate.distance)),
                )
            )
        return hits

    def score_bound(self, component: Component, distance: float, hits: Iterable[Hit]) -> float | None:
        """The best score a candidate at pgvector distance `distance` or further can have;
        None where scores follow distances exactly (sparse scores are the distances)."""
        if component == Component.SPARSE:
            return None
        assert self.spec.vector is not None and self.index.dimension is not None
        row_norm = 1.0
        if self.index.similarity == Similarity.DOT_PRODUCT:
            row_norm = max((_norm(hit.record.vector) for hit in hits), default=1.0)
        return dense_score_bound(self.index.similarity, self.index.dimension, self.spec.vector, distance, row_norm)

    def nearest_records(self, component: Component, k: int) -> list[StoredRecord]:
        """The `k` best records of one side, ranked by their scores. Exact namespaces read
        a few candidates more than `k` (more if near-ties demand), so the ranking is exact."""
        exact = component == Component.SPARSE or uses_exact_search(self.namespace)
        limit = k + RANK_PAD if exact else k
        while True:
            candidates = self.candidates(component, limit=limit)
            best = ranked(self.hits(component, candidates, recheck_filter=False))
            if not exact or len(candidates) < limit:
                return published(best[:k], self.spec.include)
            bound = self.score_bound(component, candidates[-1].distance, best)
            if len(above(best, bound)) >= k:
                return published(best[:k], self.spec.include)
            limit *= 2

    def scored(self, component: Component, candidates: list[Candidate]) -> list[tuple[int, float]]:
        """(pk, score) for candidates in order, to be fused; dense scores as the hosted
        service fuses them (`fusion_dense_scores`, docs/api.md#fusion)."""
        if component == Component.SPARSE:
            return [(c.pk, -c.distance) for c in candidates]
        assert self.spec.vector is not None
        exact = stored_dense_scores(
            self.index.similarity, self.spec.vector, [c.pk for c in candidates], scorer=fusion_dense_scores
        )
        return [
            (c.pk, exact[c.pk] if c.pk in exact else score_from_distance(self.index.similarity, c.distance))
            for c in candidates
        ]


def _norm(vector: list[float] | None) -> float:
    return float(sum(x * x for x in vector) ** 0.5) if vector else 1.0


def published(hits: Iterable[Hit], include: Include) -> list[StoredRecord]:
    """The records of ranked hits as clients get them: float32 scores, only the parts asked for."""
    records = []
    for hit in hits:
        record = hit.record
        record.score = float32(hit.score)
        if not include.vectors:
            record.vector = record.sparse = None
        records.append(record)
    return records


def hydrate(
    scored: list[tuple[int, float]], include: Include, *, compiled: CompiledFilter | None = None
) -> list[StoredRecord]:
    """Load the records behind (pk, score) pairs, in order, skipping vanished ones."""
    found = records_by_pk((pk for pk, _ in scored), include, compiled)
    results = []
    for pk, score in scored:
        record = found.get(pk)
        if record is not None:
            record.score = float32(score)
            results.append(record)
    return results
