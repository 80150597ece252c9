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

import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from search.errors import NotFound, TooManyActiveQueries
from search.filtering import CompiledFilter
from search.models import Candidate, Component, Fusion, Index, ResumableCandidate, ResumableQuery, Weighting
from search.progress import Progress, SideProgress
from search.services import sparse as sparse_codec
from search.services.fusion import fuse
from search.services.namespaces import namespace_find
from search.services.planning import SearchPlan, hydrate
from search.services.query import query_resolve
from search.services.records import Include, StoredRecord
from search.services.specs import QuerySpec, ResumableBatch

# An exact scan costs about the same for 10 rows as for 1,000 (reading and scoring every
# row is the cost, not keeping a few), so the first chunk is generous.
FIRST_CHUNK = 1_000
MAX_CHUNK = 10_000
ANALYZE_AFTER_ROWS = 2_000
# What `next` changes on the handle row: saving only these keeps the query vector unwritten.
PROGRESS_FIELDS = ["last_used_at", "expires_at", "returned_count", "progress"]


def _not_found(handle: uuid.UUID) -> NotFound:
    return NotFound(f"Resumable query {handle} does not exist, was stopped, or has expired", field="uuid")


def resumable_query_start(*, index: Index, spec: QuerySpec, max_idle: int | None = None) -> ResumableBatch:
    """Start a query and return its handle with the first `spec.top_k` results.

    A namespace that does not exist gives no handle and no results
    (docs/api.md#resumable-query). `max_idle` defaults to VECSITE_RESUMABLE_DEFAULT_MAX_IDLE."""
    spec = query_resolve(index=index, spec=spec)
    namespace = namespace_find(index=index, name=spec.namespace)
    if namespace is None:
        return ResumableBatch(handle=None, records=[], include=spec.include, returned=0, finished=True)
    with transaction.atomic():
        # Lock the index row so that concurrent starts cannot overshoot the cap.
        Index.objects.select_for_update().filter(pk=index.pk).values_list("pk").first()
        active = ResumableQuery.objects.filter(index=index).active().count()
        if active >= index.max_active_queries:
            raise TooManyActiveQueries(
                f"this index already has {active} active resumable queries (the limit is "
                f"{index.max_active_queries}); stop some with resumable-query-end or let them expire"
            )
        compiled = spec.filter
        query = ResumableQuery(
            index=index,
            namespace=namespace,
            kind=ResumableQuery.Kind.TEXT if spec.data is not None else ResumableQuery.Kind.VECTOR,
            query_text=spec.data or "",
            query_vector=spec.vector,
            query_sparse=sparse_codec.to_db(spec.sparse) if spec.sparse is not None else None,
            filter=compiled.text if compiled is not None else "",
            filter_sql=compiled.sql if compiled is not None else "",
            filter_params=list(compiled.params) if compiled is not None else [],
            include_vectors=spec.include.vectors,
            include_metadata=spec.include.metadata,
            include_data=spec.include.data,
            weighting_strategy=spec.weighting or "",
            fusion_algorithm=spec.fusion if spec.fused else "",
            top_k=spec.top_k,
            max_idle=max_idle or settings.VECSITE_RESUMABLE_DEFAULT_MAX_IDLE,
        )
        query.touch()
        query.save(force_insert=True)
    with transaction.atomic():
        query = ResumableQuery.objects.select_for_update().select_related("index", "namespace").get(pk=query.pk)
        batch = _take(query, spec.top_k)
        query.save(update_fields=PROGRESS_FIELDS)
    return batch


def resumable_query_next(*, index: Index, handle: uuid.UUID, additional_k: int) -> ResumableBatch:
    with transaction.atomic():
        query = (
            ResumableQuery.objects.select_for_update()
            .select_related("index", "namespace")
            .filter(uuid=handle, index=index)
            .active()
            .first()
        )
        if query is None:
            raise _not_found(handle)
        batch = _take(query, additional_k)
        query.touch()
        query.save(update_fields=PROGRESS_FIELDS)
    return batch


def resumable_query_end(*, index: Index, handle: uuid.UUID) -> None:
    """Stop a query. A stopped, expired or unknown handle (or another index's) is an error."""
    with transaction.atomic():
        query = ResumableQuery.objects.select_for_update().filter(uuid=handle, index=index).first()
        if query is None:
            raise _not_found(handle)
        expired = query.is_expired
        query.delete()
    if expired:
        raise _not_found(handle)


def resumable_queries_stop(*, queries: QuerySet[ResumableQuery]) -> int:
    """Stop several queries at once (the admin's action); they end as if the client had."""
    _, by_model = queries.delete()
    return by_model.get(ResumableQuery._meta.label, 0)


def query_spec(query: ResumableQuery) -> QuerySpec:
    """The spec a handle was started with, as stored (its text already embedded)."""
    return QuerySpec(
        namespace=query.namespace.name,
        vector=[float(x) for x in query.query_vector] if query.query_vector is not None else None,
        sparse=sparse_codec.from_db(query.query_sparse) if query.query_sparse is not None else None,
        top_k=query.top_k,
        include=Include(vectors=query.include_vectors, metadata=query.include_metadata, data=query.include_data),
        filter=CompiledFilter(text=query.filter, sql=query.filter_sql, params=tuple(query.filter_params))
        if query.filter_sql
        else None,
        # IDF weights are recomputed per refill from the namespace's current frequencies.
        weighting=Weighting(query.weighting_strategy) if query.weighting_strategy else None,
        fusion=Fusion(query.fusion_algorithm) if query.fusion_algorithm else Fusion.RRF,
    )


def _take(query: ResumableQuery, k: int) -> ResumableBatch:
    plan = SearchPlan(index=query.index, namespace=query.namespace, spec=query_spec(query))
    progress = query.progress
    if plan.fused:
        records = _take_fused(query, plan, progress, k)
        finished = progress.dense.finished and progress.sparse.finished
    else:
        side = progress.dense if plan.single_component == Component.DENSE else progress.sparse
        records = _take_single(query, plan, side, k)
        finished = side.finished
    query.returned_count += len(records)
    return ResumableBatch(
        handle=query.uuid,
        records=records,
        include=plan.spec.include,
        returned=query.returned_count,
        finished=finished or len(records) < k,
    )


def _take_single(query: ResumableQuery, plan: SearchPlan, side: SideProgress, k: int) -> list[StoredRecord]:
    """Hand out the next k live results of a one-component query, refilling as needed."""
    component = plan.single_component
    results: list[StoredRecord] = []
    while len(results) < k:
        if side.remaining <= 0:
            if side.exhausted or not _refill(query, plan, component, side, want=k - len(results)):
                break
            continue
        rows = list(
            ResumableCandidate.objects.filter(
                query=query,
                component=component,
                position__gt=side.consumed,
                position__lte=side.consumed + k - len(results),
            )
            .order_by("position")
            .values_list("vector_id", "distance")
        )
        side.consumed += len(rows)
        candidates = [Candidate(pk=pk, distance=distance) for pk, distance in rows]
        # Deleted vectors drop out here; updated metadata shows; the filter still holds.
        results.extend(plan.records(component, candidates, recheck_filter=True))
    return results


def _take_fused(query: ResumableQuery, plan: SearchPlan, progress: Progress, k: int) -> list[StoredRecord]:
    """A hybrid batch (docs/api.md#resumable-query): from each side its top k candidates
    not yet returned, fused within the batch; the best k are returned and marked so in
    both buffers."""
    sides = {Component.DENSE: progress.dense, Component.SPARSE: progress.sparse}
    results: list[StoredRecord] = []
    while len(results) < k:
        need = k - len(results)
        lists = {component: _unreturned(query, plan, component, side, need) for component, side in sides.items()}
        if not lists[Component.DENSE] and not lists[Component.SPARSE]:
            break
        best = fuse(plan.spec.fusion, lists[Component.DENSE], lists[Component.SPARSE])[:need]
        results.extend(hydrate(best, plan.spec.include, compiled=plan.spec.filter))
        ResumableCandidate.objects.filter(query=query, vector_id__in=[pk for pk, _ in best]).update(returned=True)
        for component, side in sides.items():
            _advance_past_returned(query, component, side)
    return results


def _unreturned(
    query: ResumableQuery, plan: SearchPlan, component: Component, side: SideProgress, count: int
) -> list[tuple[int, float]]:
    """This side's next `count` candidates not yet returned, refilling the buffer if short."""
    while True:
        rows = list(
            ResumableCandidate.objects.filter(
                query=query, component=component, position__gt=side.consumed, returned=False
            )
            .order_by("position")
            .values_list("vector_id", "distance")[:count]
        )
        if len(rows) >= count or side.exhausted or not _refill(query, plan, component, side, want=count - len(rows)):
            return plan.scored(component, [Candidate(pk=pk, distance=d) for pk, d in rows])


def _advance_past_returned(query: ResumableQuery, component: Component, side: SideProgress) -> None:
    first_open = (
        ResumableCandidate.objects.filter(query=query, component=component, position__gt=side.consumed, returned=False)
        .order_by("position")
        .values_list("position", flat=True)
        .first()
    )
    side.consumed = (first_open - 1) if first_open is not None else side.buffered


def _refill(query: ResumableQuery, plan: SearchPlan, component: Component, side: SideProgress, *, want: int) -> bool:
    """Append the next chunk of candidates to one side's buffer; False when none are left."""
    chunk = min(MAX_CHUNK, max(want, FIRST_CHUNK, side.buffered))
    # Candidates come from exact keyset scans: their cost does not depend on depth (an
    # HNSW scan restarts from the top every time), their order is the true order, and
    # nothing the index would have missed is lost, so a drain returns every vector once.
    candidates = plan.candidates(component, limit=chunk, after=side.last, exact=True)
    if len(candidates) < chunk:
        side.exhausted = True
    if not candidates:
        return False
    with connection.cursor() as cursor:
        if not plan.fused:
            # Consumed entries are no longer needed; keep the buffer small. (A fused
            # query keeps them: they remember which vectors were already returned.)
            cursor.execute(
                "DELETE FROM search_resumablecandidate WHERE query_id = %s AND component = %s AND position <= %s",
                [query.pk, component, side.consumed],
            )
        cursor.execute(
            "INSERT INTO search_resumablecandidate (query_id, component, position, vector_id, distance, returned) "
            "SELECT %s, %s, t.position, t.vector_id, t.distance, done.vector_id IS NOT NULL "
            "FROM unnest(%s::int[], %s::bigint[], %s::float8[]) AS t(position, vector_id, distance) "
            "LEFT JOIN (SELECT DISTINCT vector_id FROM search_resumablecandidate "
            "           WHERE query_id = %s AND returned) AS done ON done.vector_id = t.vector_id",
            [
                query.pk,
                component,
                list(range(side.buffered + 1, side.buffered + len(candidates) + 1)),
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
    side.buffered += len(candidates)
    side.last = candidates[-1]
    return True
