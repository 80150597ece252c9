"""What one query searches, and how: the dense side, the sparse side, or both, fused.

Namespaces of at most VECSITE_EXACT_SEARCH_MAX_VECTORS vectors are searched exactly: a
sequential scan is cheap there and has perfect recall. Larger ones go through the
index's partial HNSW index with pgvector's iterative scan (relaxed order, re-sorted),
so that a selective filter still fills the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from search.filtering import CompiledFilter
from search.models import HNSW_MAX_EF_SEARCH, AnnScan, Candidate, Component, Index, Namespace, Vector, Weighting
from search.services import sparse as sparse_codec
from search.services.records import Include, SparseValue, StoredRecord
from search.services.scoring import exact_dense_scores, float32, score_from_distance, stored_dense_scores
from search.services.specs import QuerySpec
from search.services.vectors import records_by_pk


def uses_exact_search(namespace: Namespace) -> bool:
    return namespace.vector_count <= settings.VECSITE_EXACT_SEARCH_MAX_VECTORS


def ann_scan(limit: int) -> AnnScan:
    """An HNSW scan wide enough for `limit` results."""
    return AnnScan(
        ef_search=min(HNSW_MAX_EF_SEARCH, max(settings.VECSITE_HNSW_EF_SEARCH, limit)),
        max_scan_tuples=max(20_000, 20 * limit),
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

    def records(
        self, component: Component, candidates: list[Candidate], *, recheck_filter: bool = False
    ) -> list[StoredRecord]:
        """The live records behind one side's candidates, in order, with their scores.
        Dense scores are computed from the vectors loaded with the records (one query)."""
        compiled = self.spec.filter if recheck_filter else None
        include = self.spec.include
        if component == Component.SPARSE:
            return hydrate([(c.pk, -c.distance) for c in candidates], include, compiled=compiled)
        assert self.spec.vector is not None
        loading = Include(vectors=True, metadata=include.metadata, data=include.data)
        found = records_by_pk((c.pk for c in candidates), loading, compiled)
        exact = exact_dense_scores(
            self.index.similarity, self.spec.vector, {pk: r.vector for pk, r in found.items() if r.vector is not None}
        )
        results = []
        for candidate in candidates:
            record = found.get(candidate.pk)
            if record is None:
                continue
            score = exact.get(candidate.pk, score_from_distance(self.index.similarity, candidate.distance))
            record.score = float32(score)
            if not include.vectors:
                record.vector = record.sparse = None
            results.append(record)
        return results

    def scored(self, component: Component, candidates: list[Candidate]) -> list[tuple[int, float]]:
        """(pk, score) for candidates in order, to be fused."""
        if component == Component.SPARSE:
            return [(c.pk, -c.distance) for c in candidates]
        assert self.spec.vector is not None
        exact = stored_dense_scores(self.index.similarity, self.spec.vector, [c.pk for c in candidates])
        return [
            (c.pk, exact[c.pk] if c.pk in exact else score_from_distance(self.index.similarity, c.distance))
            for c in candidates
        ]


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
