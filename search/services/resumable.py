"""Resumable queries: a handle per query, continued page by page at constant cost.

Each handle is a ResumableQuery row, a buffer of candidates per side (BufferedCandidate,
read nearest first) and the ids it has handed out (HandedOut). `start` fetches the first
candidates (one HNSW scan on a large namespace: the cost of an ordinary query), `next`
hands out the best buffered candidates and refills the buffer from refill.py when it
runs short; a Celery task refills it ahead of the client, so that `next` rarely waits.
Everything lives in Postgres: any web process serves any call, and the row lock taken by
`next` serialises concurrent calls on one handle. docs/resumable-queries.md has the
design, its guarantees and its costs.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from search.errors import NotFound
from search.models import BufferedCandidate, Candidate, Component, Index, ResumableQuery, ResumableQueryQuerySet
from search.progress import Progress, SideProgress
from search.services import refill as refills
from search.services import sparse as sparse_codec
from search.services.buffers import buffered_rows, hand_out, store_first_page
from search.services.fusion import fuse
from search.services.namespaces import namespace_find
from search.services.planning import RANK_PAD, SearchPlan, hydrate, published
from search.services.query import query_resolve
from search.services.ranking import Hit, KnownScore, above, ranked
from search.services.records import StoredRecord
from search.services.scoring import score_from_distance
from search.services.shares import READ_WRITE_TOKEN, Holder, share_check
from search.services.specs import QuerySpec, ResumableBatch

# What `next` changes on the handle row: saving only these keeps the query vector unwritten.
PROGRESS_FIELDS = ["last_used_at", "expires_at", "returned_count", "progress"]
# The longest read past a page that a handle remembers (see _take_single): one wide run
# of near-ties should not make every later page rank that many rows.
MAX_PAD = 8_192


def _not_found(handle: uuid.UUID) -> NotFound:
    return NotFound(f"Resumable query {handle} does not exist, was stopped, or has expired", field="uuid")


def resumable_query_start(
    *, index: Index, spec: QuerySpec, max_idle: int | None = None, holder: Holder = READ_WRITE_TOKEN
) -> ResumableBatch:
    """Start a query and return its handle with the first `spec.top_k` results.

    The first candidates are fetched before any lock is taken; the handle is created,
    checked against the index's cap and given its first batch in one transaction, so a
    failure leaves nothing behind. A namespace that does not exist gives no handle and
    no results (docs/api.md#resumable-query). `max_idle` defaults to
    VECSITE_RESUMABLE_DEFAULT_MAX_IDLE, and is at most VECSITE_RESUMABLE_MAX_MAX_IDLE; the
    handle counts against the caps of its `holder` (docs/api.md#fair-shares)."""
    spec = query_resolve(index=index, spec=spec)
    namespace = namespace_find(index=index, name=spec.namespace)
    if namespace is None:
        return ResumableBatch(handle=None, records=[], include=spec.include, returned=0, finished=True)
    plan = SearchPlan(index=index, namespace=namespace, spec=spec)
    query = ResumableQuery(
        index=index,
        namespace=namespace,
        kind=ResumableQuery.Kind.TEXT if spec.data is not None else ResumableQuery.Kind.VECTOR,
        query_text=spec.data or "",
        query_vector=spec.vector,
        query_sparse=sparse_codec.to_db(spec.sparse) if spec.sparse is not None else None,
        filter=spec.filter.text if spec.filter is not None else "",
        filter_sql=spec.filter.sql if spec.filter is not None else "",
        filter_params=list(spec.filter.params) if spec.filter is not None else [],
        include_vectors=spec.include.vectors,
        include_metadata=spec.include.metadata,
        include_data=spec.include.data,
        weighting_strategy=spec.weighting or "",
        fusion_algorithm=spec.fusion if spec.fused else "",
        top_k=spec.top_k,
        max_idle=min(max_idle or settings.VECSITE_RESUMABLE_DEFAULT_MAX_IDLE, settings.VECSITE_RESUMABLE_MAX_MAX_IDLE),
        progress=Progress(),
        holder=holder.key,
    )
    components = [Component.DENSE, Component.SPARSE] if plan.fused else [plan.single_component]
    fetched = [refills.fetch(plan, refills.first_refill(plan, c, spec.top_k), query.pk) for c in components]
    for result in fetched:
        query.progress.side(result.refill.component).phase = result.refill.phase
    first = None if plan.fused else _first_page(query, plan, fetched[0], spec.top_k)
    with transaction.atomic():
        _lock_for_start(index)
        share_check(index=index, holder=holder)
        query.touch()
        if first is not None:
            # The first page is known: the handle goes in with its progress, the buffer and
            # the ids handed out in one statement.
            query.save(force_insert=True)
            taken = {hit.pk for hit in first.chosen}.union(first.dropped)
            rest = [c for c in fetched[0].candidates if c.pk not in taken]
            store_first_page(query, plan.single_component, rest, first.chosen)
            _maybe_refill_ahead(query, plan)
            return _batch(query, plan, first.records, spec.top_k)
        query.save(force_insert=True)
        for result in fetched:
            refills.merge(query, result)
        # The buffer holds exactly what was just fetched: its first page is read from memory.
        batch = _take(query, plan, spec.top_k, buffered=fetched[0].candidates if not plan.fused else None)
        query.save(update_fields=PROGRESS_FIELDS)
    return batch


@dataclass(frozen=True)
class FirstPage:
    """A start's first page, chosen in memory from the rows its scan fetched."""

    chosen: list[Hit]
    dropped: list[int]
    records: list[StoredRecord]


def _first_page(query: ResumableQuery, plan: SearchPlan, fetched: refills.Fetched, k: int) -> FirstPage | None:
    """The first k results of a one-sided start, chosen from what its scan fetched, with
    the handle's progress moved past them (nothing written yet). None when those rows
    cannot tell (near-ties at their edge, many dropped): the start then reads the page
    from the buffer as `next` does."""
    before = copy.deepcopy(query.progress)
    progress = query.progress
    side = progress.side(plan.single_component)
    refills.advance(query, fetched, 0)
    limit = k + RANK_PAD
    rows = fetched.candidates[:limit]
    chosen, dropped = _choose(plan, progress, rows, k, full_window=len(rows) == limit)
    decided = len(chosen) + len(dropped) == len(rows)
    if len(chosen) < k and not (len(rows) < limit and side.exhausted and decided):
        query.progress = before
        return None
    side.buffered = len(fetched.candidates) - len(chosen) - len(dropped)
    records = _handed_out(plan, side, progress, chosen)
    query.returned_count = len(records)
    return FirstPage(chosen, dropped, records)


def _lock_for_start(index: Index) -> None:
    """Lock the index row, so that concurrent starts cannot overshoot the cap, and let this
    transaction commit without waiting for its WAL flush (10-12 ms measured here, about an
    ordinary query's cost). A start lost in a database crash loses only its handle, which
    its client then finds gone; `next` keeps synchronous commits, so that no crash can
    make a handle hand out a page again (docs/resumable-queries.md#calls-and-locks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'off', true) FROM search_index WHERE id = %s FOR UPDATE",
            [index.pk],
        )


def resumable_query_next(*, index: Index, handle: uuid.UUID, additional_k: int) -> ResumableBatch:
    """The next `additional_k` results. Concurrent calls on one handle take turns on its row
    lock: FOR NO KEY UPDATE of the handle's row only, so that neither the index's and
    namespace's rows nor a background refill's foreign-key checks on the handle (which
    take KEY SHARE) wait for it."""
    with transaction.atomic():
        query = (
            ResumableQuery.objects.select_for_update(no_key=True, of=("self",))
            .select_related("index", "namespace")
            .filter(uuid=handle, index=index)
            .active()
            .first()
        )
        if query is None:
            raise _not_found(handle)
        plan = SearchPlan(index=query.index, namespace=query.namespace, spec=refills.stored_spec(query))
        batch = _take(query, plan, additional_k)
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


def resumable_queries_stop(*, queries: ResumableQueryQuerySet) -> int:
    """Stop several queries at once (the admin's action); they end as if the client had."""
    return queries.delete_locked()


def _take(query: ResumableQuery, plan: SearchPlan, k: int, buffered: list[Candidate] | None = None) -> ResumableBatch:
    """The next k results (fewer at the end), with the handle's progress moved on and a
    background refill queued when the buffer runs low. `buffered`: the buffer's rows in
    order, when the caller knows them (the start)."""
    if plan.fused:
        records = _take_fused(query, plan, k)
    else:
        records = _take_single(query, plan, k, buffered)
        _maybe_refill_ahead(query, plan)
    query.returned_count += len(records)
    return _batch(query, plan, records, k)


def _maybe_refill_ahead(query: ResumableQuery, plan: SearchPlan) -> None:
    """Queue a background refill (sent once the caller's transaction commits) when the
    results handed out have passed the side's low-water mark."""
    side = query.progress.side(plan.single_component)
    if refills.wants_background_refill(side):
        refills.request_background_refill(query, plan.single_component, side)


def _batch(query: ResumableQuery, plan: SearchPlan, records: list[StoredRecord], k: int) -> ResumableBatch:
    progress = query.progress
    if plan.fused:
        finished = progress.dense.finished and progress.sparse.finished
    else:
        finished = progress.side(plan.single_component).finished
    return ResumableBatch(
        handle=query.uuid,
        records=records,
        include=plan.spec.include,
        returned=query.returned_count,
        finished=finished or len(records) < k,
    )


def _take_single(
    query: ResumableQuery, plan: SearchPlan, k: int, buffered: list[Candidate] | None = None
) -> list[StoredRecord]:
    """Hand out the next k results of a one-sided query, best first.

    Reads the buffer nearest first, a few candidates more than needed, scores them, and
    hands out those that nothing unread can outrank (ranking.py); the rest wait for the
    next call, their scores kept in the buffer. Candidates whose vector was deleted,
    changed, or no longer matches the filter are dropped; in the ANN phase, so are
    candidates scoring above what was already handed out (the index missed them: the
    exact phase brings them back)."""
    component = plan.single_component
    progress = query.progress
    side = progress.side(component)
    results: list[StoredRecord] = []
    # Read as far past the page as the last call had to: reading a row costs little, and
    # one scored before is not loaded again.
    pad = max(RANK_PAD, side.pad)
    reading = Reading()
    while len(results) < k:
        need = k - len(results)
        limit = need + pad
        side.pad = min(pad, MAX_PAD)
        if buffered is not None:
            rows = buffered[:limit]
            buffered = None  # known only until the first hand-out changes the buffer
        else:
            read = buffered_rows(query, component, limit, floor=side.floor)
            rows = read.candidates
            reading.remember(read.scores)
        full_window = len(rows) == limit
        chosen, dropped = _choose(plan, progress, rows, need, full_window=full_window, reading=reading)
        chosen_keys = [(hit.pk, hit.record.id) for hit in chosen]
        window = (rows[0].distance, rows[-1].distance) if rows else (-math.inf, math.inf)
        new_keys = hand_out(query, [component], chosen_keys, dropped, reading.unsaved_scores(), window=window)
        fresh = [hit for hit in chosen if hit.record.id in new_keys]
        side.buffered -= len(chosen) + len(dropped)
        side.floor = _floor_after(rows, {hit.pk for hit in chosen}.union(dropped), side.floor)
        results.extend(_handed_out(plan, side, progress, fresh))
        held_by_edge = full_window and len(chosen) < need and _edge_within_horizon(side, rows)
        if held_by_edge:
            # Near-ties at the window's edge held some back (deep in a dense namespace,
            # scores closer than their rounding bound): read further. Not when the
            # horizon held them back: a longer read would not move it, a refill does.
            pad *= 2
        if chosen or dropped or held_by_edge:
            continue
        if not refills.refill_now(query, plan, component, side, depth=query.returned_count + len(results) + need):
            break
    return results


@dataclass
class Reading:
    """What one call knows of a side's buffered rows besides their distances: the rows it
    loaded and scored (`loaded`; those not saved yet in `unsaved`), and the scores an
    earlier call saved for rows not loaded now (`known`)."""

    loaded: dict[int, Hit] = field(default_factory=dict)
    known: dict[int, float] = field(default_factory=dict)
    unsaved: set[int] = field(default_factory=set)

    def remember(self, scores: dict[int, float]) -> None:
        self.known.update((pk, score) for pk, score in scores.items() if pk not in self.loaded)

    def forget(self, pks: Iterable[int]) -> None:
        for pk in pks:
            self.loaded.pop(pk, None)
            self.known.pop(pk, None)
            self.unsaved.discard(pk)

    def unsaved_scores(self) -> dict[int, float]:
        scores = {pk: self.loaded[pk].score for pk in self.unsaved}
        self.unsaved.clear()
        return scores


def _edge_within_horizon(side: SideProgress, rows: list[Candidate]) -> bool:
    """Whether a full window's last row, rather than the side's horizon, bounds what
    is still unread (so that reading further could hand out more)."""
    if side.exhausted:
        return True
    horizon = side.horizon
    return horizon is not None and (rows[-1].distance, rows[-1].pk) < (horizon.distance, horizon.pk)


def _floor_after(rows: list[Candidate], taken: set[int], floor: float | None) -> float | None:
    """Where reading the buffer starts after `taken` left a window read from the side's
    floor: at its first row still buffered (or its last row, when none is)."""
    for row in rows:
        if row.pk not in taken:
            return row.distance
    return rows[-1].distance if rows else floor


def _choose(
    plan: SearchPlan,
    progress: Progress,
    rows: list[Candidate],
    need: int,
    *,
    full_window: bool,
    reading: Reading | None = None,
) -> tuple[list[Hit], list[int]]:
    """From a window of buffered candidates (nearest first), the best `need` that nothing
    unread can outrank, and the rows to drop (vanished, changed, no longer matching, or in
    the ANN phase scoring above what was handed out).

    A row is loaded (with its vector) and scored once: deep in a dense namespace a page
    reads far more rows than it hands out, since their scores lie within rounding of each
    other; a row an earlier call scored is ranked by its saved score, and loaded only
    when it may be handed out now (the best `need` of those), to check it again."""
    side = progress.side(plan.single_component)
    reading = Reading() if reading is None else reading
    last = progress.last_score
    dropped: list[int] = []
    saved: list[KnownScore] = []
    for c in rows:
        if c.pk in reading.known and c.pk not in reading.loaded:
            score = reading.known[c.pk]
            if last is not None and score > last:
                dropped.append(c.pk)
            else:
                saved.append(KnownScore(c, score))
    contenders = {known.pk for known in ranked(saved)[:need]}
    dropping = set(dropped)
    load = [
        c
        for c in rows
        if c.pk not in reading.loaded and c.pk not in dropping and (c.pk not in reading.known or c.pk in contenders)
    ]
    found = {hit.pk: hit for hit in plan.hits(plan.single_component, load, recheck_filter=True)}
    for c in load:
        hit = found.get(c.pk)
        if hit is None or _stale(plan, hit) or (last is not None and hit.score > last):
            dropped.append(c.pk)
            continue
        if c.pk not in reading.known:
            reading.unsaved.add(c.pk)
        reading.loaded[c.pk] = hit
    dropping = set(dropped)
    usable: list[Hit | KnownScore] = []
    for c in rows:
        if c.pk in dropping:
            continue
        if c.pk in reading.loaded:
            usable.append(reading.loaded[c.pk])
        elif c.pk in reading.known:
            usable.append(KnownScore(c, reading.known[c.pk]))
    best = ranked(usable)
    hits = [hit for hit in best if isinstance(hit, Hit)]
    chosen: list[Hit] = []
    for safe in above(best, _unread_bound(plan, side, rows if full_window else [], hits))[:need]:
        if not isinstance(safe, Hit):
            break  # not loaded yet (a contender was dropped): the next round loads it
        chosen.append(safe)
    reading.forget([hit.pk for hit in chosen] + dropped)
    return chosen, dropped


def _handed_out(plan: SearchPlan, side: SideProgress, progress: Progress, fresh: list[Hit]) -> list[StoredRecord]:
    """Move the progress past results just handed out; their records as clients get them."""
    if not fresh:
        return []
    progress.last_score = fresh[-1].score
    farthest = max((hit.candidate for hit in fresh), key=lambda c: (c.distance, c.pk))
    if side.reach is None or (side.reach.distance, side.reach.pk) < (farthest.distance, farthest.pk):
        side.reach = farthest
    return published(fresh, plan.spec.include)


def _stale(plan: SearchPlan, hit: Hit) -> bool:
    """A dense candidate whose vector changed since it was buffered: its score no longer
    matches its buffered distance (beyond float32 rounding). Later scans find it anew."""
    if plan.single_component != Component.DENSE:
        return False
    expected = score_from_distance(plan.index.similarity, hit.candidate.distance)
    bound = plan.score_bound(Component.DENSE, hit.candidate.distance, [hit])
    assert bound is not None
    return abs(hit.score - expected) > bound - expected


def _unread_bound(plan: SearchPlan, side: SideProgress, window: list[Candidate], hits: list[Hit]) -> float | None:
    """The best score a candidate not read yet may have: one further down the buffer
    (past the window's last row, when the window was full) or beyond the side's horizon
    (unless nothing lies there). None when every candidate has been read."""
    if side.horizon is None and not side.exhausted:
        return math.inf  # this phase has fetched nothing yet: anything may come
    positions = [window[-1]] if window else []
    if side.horizon is not None and not side.exhausted:
        positions.append(side.horizon)
    if not positions:
        return None
    nearest = min(positions, key=lambda c: (c.distance, c.pk))
    return plan.score_bound(plan.single_component, nearest.distance, hits)


def _take_fused(query: ResumableQuery, plan: SearchPlan, k: int) -> list[StoredRecord]:
    """A hybrid batch (docs/api.md#resumable-queries): from each side its top k candidates
    not yet handed out, fused within the batch; the best k are handed out and leave both
    buffers."""
    progress = query.progress
    results: list[StoredRecord] = []
    while len(results) < k:
        need = k - len(results)
        lists = {
            component: _top_of_side(query, plan, component, progress.side(component), need)
            for component in (Component.DENSE, Component.SPARSE)
        }
        if not lists[Component.DENSE] and not lists[Component.SPARSE]:
            break
        best = fuse(plan.spec.fusion, lists[Component.DENSE], lists[Component.SPARSE])[:need]
        records = {record.pk: record for record in hydrate(best, plan.spec.include, compiled=plan.spec.filter)}
        chosen = [(pk, records[pk].id) for pk, _ in best if pk in records]
        dropped = [pk for pk, _ in best if pk not in records]
        new_keys = hand_out(query, [Component.DENSE, Component.SPARSE], chosen, dropped)
        results.extend(records[pk] for pk, key in chosen if key in new_keys)
    for component in (Component.DENSE, Component.SPARSE):
        side = progress.side(component)
        if side.exhausted:  # how many wait matters only for telling the end
            side.buffered = BufferedCandidate.objects.filter(query=query, component=component).count()
    return results


def _top_of_side(
    query: ResumableQuery, plan: SearchPlan, component: Component, side: SideProgress, count: int
) -> list[tuple[int, float]]:
    """This side's next `count` candidates, refilling the buffer if short."""
    while True:
        rows = buffered_rows(query, component, count).candidates
        if len(rows) >= count or not refills.refill_now(query, plan, component, side, depth=count):
            return plan.scored(component, rows)
