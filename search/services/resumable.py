"""Resumable queries: a handle per query, continued page by page at constant cost.

Design (docs/resumable-queries.md has the long form): each handle is a ResumableQuery
row plus a buffer of prefetched candidates (ResumableCandidate rows, in result order).
`next` pops from the buffer by position, an indexed range read whose cost does not
depend on depth. When the buffer runs dry it is refilled from the saved keyset position
(distance, pk) with a chunk that doubles each time (capped), so the cost of refills per
result stays constant too. Refills are exact keyset scans, never HNSW scans, whose cost
grows with depth and which can miss rows. Everything lives in Postgres, so any web
process can serve any call and a restart loses nothing. The row lock taken by `next`
serialises concurrent calls on one handle, so their results never overlap.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from django.db import connection, transaction

from search.errors import InvalidInput, NotFound, TooManyActiveQueries
from search.models import Index, Namespace, ResumableCandidate, ResumableQuery
from search.services.namespaces import namespace_find
from search.services.records import Include, SparseValue, StoredRecord
from search.services.search import Candidate, compile_filter, dense_candidates, hydrate
from search.services.vectors import check_dense

FIRST_CHUNK = 100
MAX_CHUNK = 10_000


def _not_found(handle: uuid_module.UUID) -> NotFound:
    return NotFound(f"Resumable query {handle} does not exist, was stopped, or has expired", field="uuid")


def resumable_query_start(
    *,
    index: Index,
    namespace: str,
    vector: list[float] | None,
    sparse: SparseValue | None,
    top_k: int,
    include: Include,
    filter_text: str,
    max_idle: int,
    kind: str = ResumableQuery.Kind.VECTOR,
    query_text: str = "",
    weighting: str = "",
    fusion: str = "",
) -> tuple[uuid_module.UUID | None, list[StoredRecord]]:
    """Start a query and return its handle with the first `top_k` results.

    A namespace that does not exist gives no handle and no results (spec §4.5)."""
    if sparse is not None or vector is None or not index.has_dense:
        raise InvalidInput("sparse and hybrid resumable queries are not supported yet", field="sparseVector")
    check_dense(index, vector, field="vector")
    compile_filter(filter_text)  # refuse a bad filter before any state is kept
    ns = namespace_find(index=index, name=namespace)
    if ns is None:
        return None, []
    with transaction.atomic():
        # Lock the index row so that concurrent starts cannot overshoot the cap.
        Index.objects.select_for_update().filter(pk=index.pk).values_list("pk").first()
        active = ResumableQuery.objects.filter(index=index).active().count()
        if active >= index.max_active_queries:
            raise TooManyActiveQueries(
                f"this index already has {active} active resumable queries (the limit is "
                f"{index.max_active_queries}); stop some with resumable-query-end or let them expire"
            )
        query = ResumableQuery(
            index=index,
            namespace=ns,
            kind=kind,
            query_text=query_text,
            query_vector=vector,
            filter=filter_text,
            include_vectors=include.vectors,
            include_metadata=include.metadata,
            include_data=include.data,
            weighting_strategy=weighting,
            fusion_algorithm=fusion,
            top_k=top_k,
            max_idle=max_idle,
        )
        query.touch()
        query.save(force_insert=True)
    with transaction.atomic():
        query = ResumableQuery.objects.select_for_update().get(pk=query.pk)
        records = _take(query, top_k)
        query.save()
    return query.uuid, records


def resumable_query_next(
    *, index: Index, uuid: uuid_module.UUID, additional_k: int
) -> tuple[Include, list[StoredRecord]]:
    with transaction.atomic():
        query = ResumableQuery.objects.select_for_update().filter(uuid=uuid, index=index).active().first()
        if query is None:
            raise _not_found(uuid)
        records = _take(query, additional_k)
        query.touch()
        query.save()
    return include_of(query), records


def resumable_query_end(*, index: Index, uuid: uuid_module.UUID) -> None:
    """Stop a query. A stopped, expired or unknown handle (or another index's) is an error."""
    with transaction.atomic():
        query = ResumableQuery.objects.select_for_update().filter(uuid=uuid, index=index).first()
        if query is None:
            raise _not_found(uuid)
        expired = query.is_expired
        query.delete()
    if expired:
        raise _not_found(uuid)


def resumable_queries_stop(*, queries: Any) -> int:
    """Stop several queries at once (the admin's action); they end as if the client had."""
    deleted, by_model = queries.delete()
    return by_model.get(ResumableQuery._meta.label, 0)


def include_of(query: ResumableQuery) -> Include:
    return Include(vectors=query.include_vectors, metadata=query.include_metadata, data=query.include_data)


def _take(query: ResumableQuery, k: int) -> list[StoredRecord]:
    """Hand out the next k live results, refilling the buffer as needed."""
    filter_sql = compile_filter(query.filter)
    include = include_of(query)
    results: list[StoredRecord] = []
    while len(results) < k:
        if query.consumed >= query.buffered:
            if query.exhausted or not _refill(query, want=k - len(results), filter_sql=filter_sql):
                break
            continue
        need = k - len(results)
        rows = list(
            ResumableCandidate.objects.filter(
                query=query, position__gt=query.consumed, position__lte=query.consumed + need
            )
            .order_by("position")
            .values_list("vector_id", "distance")
        )
        query.consumed += len(rows)
        candidates = [Candidate(pk=pk, distance=distance) for pk, distance in rows]
        # Deleted vectors drop out here; updated metadata shows; the filter still holds.
        results.extend(hydrate(query.index, candidates, include, filter_sql))
    query.returned_count += len(results)
    return results


def _refill(query: ResumableQuery, *, want: int, filter_sql: tuple[str, list[Any]] | None) -> bool:
    """Append the next chunk of candidates to the buffer; False when none are left."""
    namespace = Namespace.objects.filter(pk=query.namespace_id).first()
    if namespace is None:
        query.exhausted = True
        return False
    chunk = min(MAX_CHUNK, max(want, FIRST_CHUNK, query.buffered))
    after = (
        Candidate(pk=query.last_vector_id, distance=query.last_distance)
        if query.last_vector_id is not None and query.last_distance is not None
        else None
    )
    # Candidates come from an exact keyset scan: its cost does not depend on depth (an
    # HNSW scan restarts from the top every time), its order is the true order, and
    # nothing the index would have missed is lost, so a drain returns every vector once.
    vector = [float(x) for x in query.query_vector]
    candidates = dense_candidates(
        index=query.index,
        namespace=namespace,
        vector=vector,
        filter_sql=filter_sql,
        limit=chunk,
        after=after,
        exact=True,
    )
    if len(candidates) < chunk:
        query.exhausted = True
    if not candidates:
        query.exhausted = True
        return False
    with connection.cursor() as cursor:
        # Consumed entries are no longer needed; keep the buffer small.
        cursor.execute(
            "DELETE FROM search_resumablecandidate WHERE query_id = %s AND position <= %s",
            [query.pk, query.consumed],
        )
        cursor.execute(
            "INSERT INTO search_resumablecandidate (query_id, position, vector_id, distance) "
            "SELECT %s, t.position, t.vector_id, t.distance "
            "FROM unnest(%s::int[], %s::bigint[], %s::float8[]) AS t(position, vector_id, distance)",
            [
                query.pk,
                list(range(query.buffered + 1, query.buffered + len(candidates) + 1)),
                [c.pk for c in candidates],
                [c.distance for c in candidates],
            ],
        )
    query.buffered += len(candidates)
    query.last_vector_id = candidates[-1].pk
    query.last_distance = candidates[-1].distance
    return True
