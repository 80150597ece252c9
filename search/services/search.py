"""Nearest-neighbour search over one namespace, exact or through the HNSW index.

Namespaces of at most VECSITE_EXACT_SEARCH_MAX_VECTORS vectors are searched exactly: a
sequential scan is cheap there and has perfect recall. Larger ones go through the
index's partial HNSW index with pgvector's iterative scan (relaxed order, re-sorted
here), so a selective filter still fills the page.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, TextField, Value
from django.db.models.functions import Cast
from pgvector.django import CosineDistance, HalfVectorField, L2Distance, MaxInnerProduct, VectorField

from search.errors import InvalidInput, SemanticError
from search.models import Index, Namespace, Similarity, Vector
from search.services import sparse as sparse_codec
from search.services.fusion import fuse
from search.services.indexes import ann_vector_type
from search.services.namespaces import namespace_find
from search.services.records import Include, SparseValue, StoredRecord
from search.services.vectors import check_dense, records_by_pk

HNSW_MAX_EF_SEARCH = 1000

_DISTANCE = {
    Similarity.COSINE: CosineDistance,
    Similarity.EUCLIDEAN: L2Distance,
    Similarity.DOT_PRODUCT: MaxInnerProduct,
}

METADATA_COLUMN = '"search_vector"."metadata"'


@dataclass(frozen=True)
class Candidate:
    """A search hit: its row and its sort key (smaller is better). For the sparse side
    the key is the negated inner product, as pgvector's `<#>` gives it."""

    pk: int
    distance: float


def compile_filter(text: str | None) -> tuple[str, list[Any]] | None:
    """Parse a client's filter into parameterised SQL over the metadata column."""
    if not text:
        return None
    from search.filtering import FilterError, filter_to_sql, parse_filter

    try:
        node = parse_filter(text)
    except FilterError as error:
        message = str(error).removeprefix("filter: ")  # the field is named once, by InvalidInput
        raise InvalidInput(message, field="filter") from None
    if node is None:
        return None
    return filter_to_sql(node, column=METADATA_COLUMN)


def dense_scores(similarity: str, query: list[float], pks: list[int]) -> dict[int, float]:
    """Scores of these records against the query, in double precision over float32 inputs."""
    if not pks:
        return {}
    rows = Vector.objects.filter(pk__in=pks).annotate(text=Cast("embedding", TextField())).values_list("pk", "text")
    return exact_dense_scores(similarity, query, {pk: json.loads(text) for pk, text in rows if text})


def exact_dense_scores(similarity: str, query: list[float], vectors: dict[int, list[float]]) -> dict[int, float]:
    if not vectors:
        return {}
    keys = list(vectors)
    matrix = np.array([vectors[key] for key in keys], dtype=np.float32).astype(np.float64)
    q = np.asarray(query, dtype=np.float32).astype(np.float64)
    if similarity == Similarity.COSINE:
        norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(q)
        cosine = np.clip(matrix @ q / np.where(norms == 0, 1.0, norms), -1.0, 1.0)
        scores = (1.0 + cosine) / 2.0
    elif similarity == Similarity.EUCLIDEAN:
        scores = 1.0 / (1.0 + np.sum((matrix - q) ** 2, axis=1))
    else:
        scores = (1.0 + matrix @ q) / 2.0
    return {key: float(score) for key, score in zip(keys, scores, strict=True)}


def score_from_distance(similarity: str, distance: float) -> float:
    """Upstash's normalised score (1 = most similar) from pgvector's distance."""
    if similarity == Similarity.COSINE:
        return min(1.0, max(0.0, 1.0 - distance / 2.0))
    if similarity == Similarity.EUCLIDEAN:
        return 1.0 / (1.0 + distance * distance)
    return (1.0 - distance) / 2.0  # `<#>` is the negated inner product


def float32(value: float) -> float:
    """The double whose shortest repr is the float32's shortest repr (0.1, not 0.100000001)."""
    return float(str(np.float32(value)))


def uses_exact_search(namespace: Namespace) -> bool:
    return namespace.vector_count <= settings.VECSITE_EXACT_SEARCH_MAX_VECTORS


def dense_candidates(
    *,
    index: Index,
    namespace: Namespace,
    vector: list[float],
    filter_sql: tuple[str, list[Any]] | None,
    limit: int,
    after: Candidate | None = None,
    exact: bool,
) -> list[Candidate]:
    """The next `limit` nearest records after `after` (keyset on distance, then pk)."""
    assert index.dimension is not None
    distance_cls = _DISTANCE[Similarity(index.similarity)]
    queryset = Vector.objects.filter(namespace=namespace)
    if exact:
        distance = distance_cls(F("embedding"), vector)
    else:
        # Must be the very expression of the partial HNSW index for the planner to use it.
        field_cls = VectorField if ann_vector_type(index.dimension) == "vector" else HalfVectorField
        field = field_cls(dimensions=index.dimension)
        distance = distance_cls(Cast(F("embedding"), field), Cast(Value(_vector_text(vector)), field))
        queryset = queryset.filter(index=index)
    queryset = queryset.annotate(distance=distance)
    if filter_sql is not None:
        sql, params = filter_sql
        queryset = queryset.extra(where=[sql], params=params)  # noqa: S610 - compiled filter, values bound
    if after is not None:
        queryset = queryset.filter(Q(distance__gt=after.distance) | Q(distance=after.distance, pk__gt=after.pk))
    if exact:
        rows = list(queryset.order_by("distance", "pk").values_list("pk", "distance")[:limit])
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL hnsw.ef_search = %s", [min(HNSW_MAX_EF_SEARCH, max(settings.VECSITE_HNSW_EF_SEARCH, limit))]
            )
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            # We chose the index for this namespace (by its size); keep the planner from
            # trading it for a full sort on cost estimates that do not know the dimension.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL hnsw.max_scan_tuples = %s", [max(20_000, 20 * limit)])
            rows = list(queryset.order_by("distance").values_list("pk", "distance")[:limit])
        rows.sort(key=lambda row: (row[1], row[0]))  # relaxed order: restore strict order, ties by pk
    return [Candidate(pk=pk, distance=distance) for pk, distance in rows]


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def sparse_candidates(
    *,
    namespace: Namespace,
    sparse: SparseValue,
    filter_sql: tuple[str, list[Any]] | None,
    limit: int,
    after: Candidate | None = None,
) -> list[Candidate]:
    """Exact sparse search: records sharing an index with the query, by inner product."""
    indices = sparse_codec.non_zero_indices(sparse)
    if not indices:
        return []
    query_vector = sparse_codec.to_db(sparse)
    queryset = Vector.objects.filter(namespace=namespace, sparse_indices__overlap=indices).annotate(
        distance=MaxInnerProduct(F("sparse"), query_vector)
    )
    if filter_sql is not None:
        queryset = queryset.extra(where=[filter_sql[0]], params=filter_sql[1])  # noqa: S610 - values bound
    if after is not None:
        queryset = queryset.filter(Q(distance__gt=after.distance) | Q(distance=after.distance, pk__gt=after.pk))
    rows = queryset.order_by("distance", "pk").values_list("pk", "distance")[:limit]
    return [Candidate(pk=pk, distance=distance) for pk, distance in rows]


def idf_weighted(namespace: Namespace, sparse: SparseValue) -> SparseValue:
    """Scale each query dimension by IDF(i) = ln((N - n(i) + 0.5) / (n(i) + 0.5) + 1).

    N and n(i) are counted per namespace at query time (GIN lookups on the indices
    array), so they are right after every upsert, update and delete by construction."""
    frequencies = document_frequencies(namespace, sparse.indices)
    total = Vector.objects.filter(namespace=namespace, sparse_indices__isnull=False).count()
    values = [
        value * math.log((total - frequencies.get(i, 0) + 0.5) / (frequencies.get(i, 0) + 0.5) + 1.0)
        for i, value in zip(sparse.indices, sparse.values, strict=True)
    ]
    return SparseValue(indices=list(sparse.indices), values=values)


def document_frequencies(namespace: Namespace, indices: list[int]) -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i, (SELECT count(*) FROM search_vector v "
            "           WHERE v.namespace_id = %s AND v.sparse_indices @> ARRAY[i]) "
            "FROM unnest(%s::int[]) AS i",
            [namespace.pk, list(indices)],
        )
        return dict(cursor.fetchall())


@dataclass
class SearchPlan:
    """What one query searches: the dense side, the sparse side, or both, fused."""

    index: Index
    namespace: Namespace
    dense: list[float] | None
    raw_sparse: SparseValue | None
    weighting: str | None
    fusion: str
    filter_sql: tuple[str, list[Any]] | None

    @property
    def fused(self) -> bool:
        return self.dense is not None and self.raw_sparse is not None

    @cached_property
    def sparse(self) -> SparseValue | None:
        """The sparse query, IDF-weighted when asked; computed only when searched."""
        if self.raw_sparse is not None and self.weighting == "IDF":
            return idf_weighted(self.namespace, self.raw_sparse)
        return self.raw_sparse

    def candidates(
        self, component: str, *, limit: int, after: Candidate | None = None, exact: bool | None = None
    ) -> list[Candidate]:
        if component == DENSE:
            assert self.dense is not None
            return dense_candidates(
                index=self.index,
                namespace=self.namespace,
                vector=self.dense,
                filter_sql=self.filter_sql,
                limit=limit,
                after=after,
                exact=uses_exact_search(self.namespace) if exact is None else exact,
            )
        assert self.sparse is not None
        return sparse_candidates(
            namespace=self.namespace, sparse=self.sparse, filter_sql=self.filter_sql, limit=limit, after=after
        )

    def records(
        self, component: str, candidates: list[Candidate], include: Include, *, recheck_filter: bool = False
    ) -> list[StoredRecord]:
        """The live records behind one component's candidates, in order, with their scores.

        Dense scores are computed from the vectors loaded with the records (one query)."""
        filter_sql = self.filter_sql if recheck_filter else None
        if component == SPARSE:
            return hydrate([(c.pk, -c.distance) for c in candidates], include, filter_sql)
        assert self.dense is not None
        loading = Include(vectors=True, metadata=include.metadata, data=include.data)
        found = records_by_pk((c.pk for c in candidates), loading, filter_sql)
        exact = exact_dense_scores(
            self.index.similarity, self.dense, {pk: r.vector for pk, r in found.items() if r.vector is not None}
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

    def scored(self, component: str, candidates: list[Candidate]) -> list[tuple[int, float]]:
        """(pk, score) for candidates in order. Dense scores are recomputed in double
        precision from the stored float32 vectors (spec §6.1): pgvector accumulates in
        float32, which moves the last digit (1/1.8 would read 0.5555555)."""
        if component == SPARSE:
            return [(c.pk, -c.distance) for c in candidates]
        assert self.dense is not None
        exact = dense_scores(self.index.similarity, self.dense, [c.pk for c in candidates])
        return [
            (c.pk, exact[c.pk] if c.pk in exact else score_from_distance(self.index.similarity, c.distance))
            for c in candidates
        ]


DENSE = "d"
SPARSE = "s"


def check_query_parts(
    index: Index, vector: list[float] | None, sparse: SparseValue | None, weighting: str | None
) -> None:
    """Which parts a query may carry on this index type (spec §3), validated before any state."""
    if vector is None and sparse is None:
        raise InvalidInput("a query needs a vector or a sparseVector", field="vector")
    if vector is not None:
        if not index.has_dense:
            raise SemanticError("a SPARSE index is queried with sparseVector, not vector", field="vector")
        check_dense(index, vector, field="vector")
    if sparse is not None and not index.has_sparse:
        raise SemanticError("a DENSE index is queried with vector, not sparseVector", field="sparseVector")
    if weighting and sparse is None:
        raise InvalidInput("applies to the sparse side of a query; none was given", field="weightingStrategy")


def plan_search(
    *,
    index: Index,
    namespace: Namespace,
    vector: list[float] | None,
    sparse: SparseValue | None,
    filter_sql: tuple[str, list[Any]] | None,
    weighting: str | None = None,
    fusion: str | None = None,
) -> SearchPlan:
    return SearchPlan(
        index=index,
        namespace=namespace,
        dense=vector,
        raw_sparse=sparse,
        weighting=weighting,
        fusion=fusion or "RRF",
        filter_sql=filter_sql,
    )


def hydrate(
    scored: list[tuple[int, float]],
    include: Include,
    filter_sql: tuple[str, list[Any]] | None = None,
) -> list[StoredRecord]:
    """Load the records behind (pk, score) pairs, in order, skipping vanished ones."""
    found = records_by_pk((pk for pk, _ in scored), include, filter_sql)
    results = []
    for pk, score in scored:
        record = found.get(pk)
        if record is not None:
            record.score = float32(score)
            results.append(record)
    return results


def fusion_pool(top_k: int) -> int:
    """How many candidates each side contributes to a fused plain query: generous, since
    a record ranked below topK on one side can still win on the sum (spec §6.3)."""
    return max(FUSION_POOL, 2 * top_k)


FUSION_POOL = 100


def query(
    *,
    index: Index,
    namespace: str,
    vector: list[float] | None,
    sparse: SparseValue | None,
    top_k: int,
    include: Include,
    filter_text: str = "",
    weighting: str | None = None,
    fusion: str | None = None,
) -> list[StoredRecord]:
    """One query of whatever kind the index and the request call for."""
    check_query_parts(index, vector, sparse, weighting)
    filter_sql = compile_filter(filter_text)
    ns = namespace_find(index=index, name=namespace)
    if ns is None:
        return []
    plan = plan_search(
        index=index,
        namespace=ns,
        vector=vector,
        sparse=sparse,
        filter_sql=filter_sql,
        weighting=weighting,
        fusion=fusion,
    )
    if plan.fused:
        pool = fusion_pool(top_k)
        dense = plan.scored(DENSE, plan.candidates(DENSE, limit=pool))
        sparse_hits = plan.scored(SPARSE, plan.candidates(SPARSE, limit=pool))
        return hydrate(fuse(plan.fusion, dense, sparse_hits)[:top_k], include)
    component = DENSE if plan.dense is not None else SPARSE
    candidates = plan.candidates(component, limit=top_k)
    return plan.records(component, candidates, include)
