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

from search.errors import NotFound, TooManyActiveQueries
from search.models import Index, ResumableCandidate, ResumableQuery
from search.services import sparse as sparse_codec
from search.services.fusion import fuse
from search.services.namespaces import namespace_find
from search.services.records import Include, SparseValue, StoredRecord
from search.services.search import (
    DENSE,
    SPARSE,
    Candidate,
    SearchPlan,
    check_query_parts,
    compile_filter,
    hydrate,
    plan_search,
)

# An exact scan costs about the same for 10 rows as for 1,000 (reading and scoring every
# row is the cost, not keeping a few), so the first chunk is generous.
FIRST_CHUNK = 1_000
MAX_CHUNK = 10_000
ANALYZE_AFTER_ROWS = 2_000
# What `next` changes on the handle row: saving only these keeps the query vector unwritten.
PROGRESS_FIELDS = [
    "last_used_at",
    "expires_at",
    "returned_count",
    "consumed",
    "buffered",
    "last_distance",
    "last_vector_id",
    "exhausted",
    "sparse_consumed",
    "sparse_buffered",
    "sparse_last_distance",
    "sparse_last_vector_id",
    "sparse_exhausted",
]


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
    check_query_parts(index, vector, sparse, weighting)
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
            query_sparse=sparse_codec.to_db(sparse) if sparse is not None else None,
            filter=filter_text,
            include_vectors=include.vectors,
            include_metadata=include.metadata,
            include_data=include.data,
            weighting_strategy=weighting,
            fusion_algorithm=fusion or ("RRF" if vector is not None and sparse is not None else ""),
            top_k=top_k,
            max_idle=max_idle,
        )
        query.touch()
        query.save(force_insert=True)
    with transaction.atomic():
        query = ResumableQuery.objects.select_for_update().select_related("index", "namespace").get(pk=query.pk)
        records = _take(query, top_k)
        query.save(update_fields=PROGRESS_FIELDS)
    return query.uuid, records


def resumable_query_next(
    *, index: Index, uuid: uuid_module.UUID, additional_k: int
) -> tuple[Include, list[StoredRecord]]:
    with transaction.atomic():
        query = (
            ResumableQuery.objects.select_for_update()
            .select_related("index", "namespace")
            .filter(uuid=uuid, index=index)
            .active()
            .first()
        )
        if query is None:
            raise _not_found(uuid)
        records = _take(query, additional_k)
        query.touch()
        query.save(update_fields=PROGRESS_FIELDS)
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


class _Progress:
    """A view of one component's progress fields on the handle row."""

    def __init__(self, query: ResumableQuery, component: str) -> None:
        self.query = query
        self.prefix = "sparse_" if component == SPARSE and query.query_vector is not None else ""
        self.component = component

    def __getattr__(self, name: str) -> Any:
        return getattr(self.query, self.prefix + name)

    def set(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self.query, self.prefix + name, value)


def _plan(query: ResumableQuery) -> SearchPlan:
    sparse = sparse_codec.from_db(query.query_sparse) if query.query_sparse is not None else None
    # IDF weights are fixed at start? No: they are recomputed per refill from the
    # namespace's current frequencies, like the filter they hold for the query's life.
    return plan_search(
        index=query.index,
        namespace=query.namespace,
        vector=[float(x) for x in query.query_vector] if query.query_vector is not None else None,
        sparse=sparse,
        filter_sql=compile_filter(query.filter),
        weighting=query.weighting_strategy or None,
        fusion=query.fusion_algorithm or None,
    )


def _take(query: ResumableQuery, k: int) -> list[StoredRecord]:
    plan = _plan(query)
    results = _take_fused(query, plan, k) if plan.fused else _take_single(query, plan, k)
    query.returned_count += len(results)
    return results


def _take_single(query: ResumableQuery, plan: SearchPlan, k: int) -> list[StoredRecord]:
    """Hand out the next k live results of a one-component query, refilling as needed."""
    component = DENSE if plan.dense is not None else SPARSE
    progress = _Progress(query, component)
    include = include_of(query)
    results: list[StoredRecord] = []
    while len(results) < k:
        if progress.consumed >= progress.buffered:
            if progress.exhausted or not _refill(query, plan, progress, want=k - len(results)):
                break
            continue
        need = k - len(results)
        rows = list(
            ResumableCandidate.objects.filter(
                query=query,
                component=component,
                position__gt=progress.consumed,
                position__lte=progress.consumed + need,
            )
            .order_by("position")
            .values_list("vector_id", "distance")
        )
        progress.set(consumed=progress.consumed + len(rows))
        candidates = [Candidate(pk=pk, distance=distance) for pk, distance in rows]
        # Deleted vectors drop out here; updated metadata shows; the filter still holds.
        results.extend(plan.records(component, candidates, include, recheck_filter=True))
    return results


def _take_fused(query: ResumableQuery, plan: SearchPlan, k: int) -> list[StoredRecord]:
    """A hybrid batch (spec §8): from each side its top k candidates not yet returned,
    fused within the batch; the best k are returned and marked so in both buffers."""
    include = include_of(query)
    sides = {component: _Progress(query, component) for component in (DENSE, SPARSE)}
    results: list[StoredRecord] = []
    while len(results) < k:
        need = k - len(results)
        lists = {component: _unreturned(query, plan, progress, need) for component, progress in sides.items()}
        if not lists[DENSE] and not lists[SPARSE]:
            break
        best = fuse(plan.fusion, lists[DENSE], lists[SPARSE])[:need]
        chosen = [pk for pk, _ in best]
        results.extend(hydrate(best, include, plan.filter_sql))
        ResumableCandidate.objects.filter(query=query, vector_id__in=chosen).update(returned=True)
        for progress in sides.values():
            _advance_past_returned(query, progress)
    return results


def _unreturned(query: ResumableQuery, plan: SearchPlan, progress: _Progress, count: int) -> list[tuple[int, float]]:
    """This side's next `count` candidates not yet returned, refilling the buffer if short."""
    while True:
        rows = list(
            ResumableCandidate.objects.filter(
                query=query, component=progress.component, position__gt=progress.consumed, returned=False
            )
            .order_by("position")
            .values_list("vector_id", "distance")[:count]
        )
        if len(rows) >= count or progress.exhausted or not _refill(query, plan, progress, want=count - len(rows)):
            return plan.scored(progress.component, [Candidate(pk=pk, distance=d) for pk, d in rows])


def _advance_past_returned(query: ResumableQuery, progress: _Progress) -> None:
    first_open = (
        ResumableCandidate.objects.filter(
            query=query, component=progress.component, position__gt=progress.consumed, returned=False
        )
        .order_by("position")
        .values_list("position", flat=True)
        .first()
    )
    progress.set(consumed=(first_open - 1) if first_open is not None else progress.buffered)


def _refill(query: ResumableQuery, plan: SearchPlan, progress: _Progress, *, want: int) -> bool:
    """Append the next chunk of candidates to one side's buffer; False when none are left."""
    chunk = min(MAX_CHUNK, max(want, FIRST_CHUNK, progress.buffered))
    after = (
        Candidate(pk=progress.last_vector_id, distance=progress.last_distance)
        if progress.last_vector_id is not None and progress.last_distance is not None
        else None
    )
    # Candidates come from exact keyset scans: their cost does not depend on depth (an
    # HNSW scan restarts from the top every time), their order is the true order, and
    # nothing the index would have missed is lost, so a drain returns every vector once.
    candidates = plan.candidates(progress.component, limit=chunk, after=after, exact=True)
    if len(candidates) < chunk:
        progress.set(exhausted=True)
    if not candidates:
        return False
    with connection.cursor() as cursor:
        if not plan.fused:
            # Consumed entries are no longer needed; keep the buffer small. (A fused
            # query keeps them: they remember which vectors were already returned.)
            cursor.execute(
                "DELETE FROM search_resumablecandidate WHERE query_id = %s AND component = %s AND position <= %s",
                [query.pk, progress.component, progress.consumed],
            )
        cursor.execute(
            "INSERT INTO search_resumablecandidate (query_id, component, position, vector_id, distance, returned) "
            "SELECT %s, %s, t.position, t.vector_id, t.distance, done.vector_id IS NOT NULL "
            "FROM unnest(%s::int[], %s::bigint[], %s::float8[]) AS t(position, vector_id, distance) "
            "LEFT JOIN (SELECT DISTINCT vector_id FROM search_resumablecandidate "
            "           WHERE query_id = %s AND returned) AS done ON done.vector_id = t.vector_id",
            [
                query.pk,
                progress.component,
                list(range(progress.buffered + 1, progress.buffered + len(candidates) + 1)),
                [c.pk for c in candidates],
                [c.distance for c in candidates],
                query.pk,
            ],
        )
    if plan.fused and len(candidates) >= ANALYZE_AFTER_ROWS:
        # Fused buffers grow fast from nothing; with statistics from when the table was
        # small the planner scans a whole buffer instead of using the partial index.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE search_resumablecandidate")
    progress.set(
        buffered=progress.buffered + len(candidates),
        last_vector_id=candidates[-1].pk,
        last_distance=candidates[-1].distance,
    )
    return True
