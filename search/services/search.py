"""Nearest-neighbour search over one namespace, exact or through the HNSW index.

Namespaces of at most VECSITE_EXACT_SEARCH_MAX_VECTORS vectors are searched exactly: a
sequential scan is cheap there and has perfect recall. Larger ones go through the
index's partial HNSW index with pgvector's iterative scan (relaxed order, re-sorted
here), so a selective filter still fills the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Cast
from pgvector.django import CosineDistance, HalfVectorField, L2Distance, MaxInnerProduct, VectorField

from search.errors import InvalidInput
from search.models import Index, Namespace, Similarity, Vector
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
        raise InvalidInput(str(error), field="filter") from None
    if node is None:
        return None
    return filter_to_sql(node, column=METADATA_COLUMN)


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
            cursor.execute("SET LOCAL hnsw.max_scan_tuples = %s", [max(20_000, 20 * limit)])
            rows = list(queryset.order_by("distance").values_list("pk", "distance")[:limit])
        rows.sort(key=lambda row: (row[1], row[0]))  # relaxed order: restore strict order, ties by pk
    return [Candidate(pk=pk, distance=distance) for pk, distance in rows]


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def hydrate(
    index: Index,
    candidates: list[Candidate],
    include: Include,
    filter_sql: tuple[str, list[Any]] | None = None,
) -> list[StoredRecord]:
    """Load the records behind candidates, in candidate order, skipping vanished ones."""
    found = records_by_pk((c.pk for c in candidates), include, filter_sql)
    results = []
    for candidate in candidates:
        record = found.get(candidate.pk)
        if record is not None:
            record.score = float32(score_from_distance(index.similarity, candidate.distance))
            results.append(record)
    return results


def query_dense(
    *, index: Index, namespace: str, vector: list[float], top_k: int, include: Include, filter_text: str = ""
) -> list[StoredRecord]:
    if not index.has_dense:
        raise InvalidInput(f"a {index.index_type} index is queried with sparseVector", field="vector")
    check_dense(index, vector, field="vector")
    filter_sql = compile_filter(filter_text)
    ns = namespace_find(index=index, name=namespace)
    if ns is None:
        return []
    candidates = dense_candidates(
        index=index, namespace=ns, vector=vector, filter_sql=filter_sql, limit=top_k, exact=uses_exact_search(ns)
    )
    return hydrate(index, candidates, include)


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
    if sparse is not None or not index.has_dense:
        raise InvalidInput("sparse and hybrid queries are not supported yet", field="sparseVector")
    assert vector is not None
    return query_dense(
        index=index, namespace=namespace, vector=vector, top_k=top_k, include=include, filter_text=filter_text
    )
