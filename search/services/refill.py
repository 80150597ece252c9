"""Filling a resumable query's candidate buffers: what to fetch next, fetching it, merging it.

A dense side of a large namespace starts in the ANN phase: HNSW scans (pgvector's
iterative scan) from the top, each twice the size of the last, the first half of each
trusted; it moves to the exact phase once a scan would cost more than a scan of the
whole namespace (VECSITE_RESUMABLE_ANN_MAX_FRACTION of it), or an HNSW scan gives up
early (a selective filter). The exact phase reads keyset chunks in (distance, row) order;
its first chunks after the ANN phase leave out ids already handed out, and so bring back
what the index missed. Sparse sides, hybrid queries, small namespaces and indexes made
exact are exact from the start (docs/resumable-queries.md).

Scans run outside any transaction and lock; a merge takes the handle's row lock briefly,
so a background refill (a Celery task) and `next` calls on other processes interleave
safely: merged rows go in with ON CONFLICT DO NOTHING, and horizons only move forward.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from psycopg.errors import LockNotAvailable

from search.filtering import CompiledFilter
from search.metrics import REFILLS
from search.models import Candidate, Component, Fusion, HandedOut, Namespace, ResumableQuery, Vector, Weighting
from search.progress import Phase, Progress, SideProgress
from search.services import sparse as sparse_codec
from search.services.planning import SearchPlan, ann_scan, uses_exact_search
from search.services.records import Include
from search.services.specs import QuerySpec

logger = logging.getLogger(__name__)

# The start fetches a few pages' worth, so that it costs what an ordinary query costs:
# an HNSW scan at the ordinary ef_search (measured: 100 rows take no longer than 10), or
# an exact scan, whose cost is reading the namespace, not the rows kept; and few rows to
# buffer. The next HNSW scans grow fourfold, then double, widening the candidate list to
# pgvector's maximum: after an ordinary start (100 rows), scans of 400, 1,600, 3,200, ...
START_ROWS = 100
ANN_DOUBLING_FROM = 2_000
ANN_EF_SEARCH = 1_000
# Only the first half (by distance) of an HNSW scan is handed out: its tail is where an
# iterative scan misses most; the next scan, twice as large, covers it again.
ANN_TRUSTED_FRACTION = 0.5
# Exact chunks: on a small namespace each doubles the last (from the start's few), up to
# 10,000; on a large one every chunk after the start is a fiftieth of the namespace, since
# each costs a scan of all of it: a scan of the whole namespace is paid once per that many
# results, and well ahead of the client.
EXACT_FIRST_CHUNK = 1_000
EXACT_MIN_MAX_CHUNK = 10_000
EXACT_CHUNK_FRACTION = 50
REFILL_AT_FRACTION = 4
REFILL_TASK = "search.tasks.refill_resumable_query"
# A background refill not merged by then is presumed lost (a worker died) and asked again.
REFILL_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Refill:
    """One refill of one side: an HNSW scan of `size` rows from the top, or an exact
    chunk of `size` rows after `after` (leaving out ids handed out, while catching up).
    An HNSW scan keeps only the rows after `after` (the farthest handed out): nearer
    ones are what earlier scans missed, which the exact phase hands out."""

    component: Component
    phase: Phase
    size: int
    after: Candidate | None = None
    skip_handed_out: bool = False


@dataclass(frozen=True)
class Fetched:
    """What a refill found: the candidates, how far they can be trusted, and whether
    the exact order has nothing beyond them (or the ANN phase is over)."""

    refill: Refill
    candidates: list[Candidate]
    horizon: Candidate | None
    low_water: Candidate | None = None
    exhausted: bool = False
    ann_over: bool = False


def initial_phase(plan: SearchPlan, component: Component) -> Phase:
    """ANN for the dense side of a one-sided query on a large namespace of an index that
    allows it; exact otherwise."""
    approximate = (
        component == Component.DENSE
        and not plan.fused
        and not plan.index.exact_resumable
        and not uses_exact_search(plan.namespace)
    )
    return Phase.ANN if approximate else Phase.EXACT


def ann_limit(namespace: Namespace) -> int:
    """The largest HNSW scan worth making: beyond it a scan of the whole namespace is cheaper."""
    return int(namespace.vector_count * settings.VECSITE_RESUMABLE_ANN_MAX_FRACTION)


def first_refill(plan: SearchPlan, component: Component, top_k: int) -> Refill:
    """What a side fetches at start: a few pages' worth (see START_ROWS)."""
    size = max(START_ROWS, 4 * top_k)
    if initial_phase(plan, component) == Phase.ANN and size <= ann_limit(plan.namespace):
        return Refill(component, Phase.ANN, size)
    return Refill(component, Phase.EXACT, size)


def next_refill(plan: SearchPlan, component: Component, side: SideProgress, *, depth: int = -1) -> Refill | None:
    """What a side fetches next, or None when it has nothing more to fetch.

    A refill in the background follows the doubling schedule. A `next` that ran out
    (`depth`: the results handed out plus those it still wants) makes the smallest ANN
    scan that reaches past that depth instead, cheap at shallow depths; the scheduled
    scan still comes in the background and merges over it."""
    if side.phase == Phase.ANN:
        # Fourfold up to ANN_DOUBLING_FROM, then doubling: the first lands in the
        # background before the client has used up what the start buffered.
        size = max(2 * side.scanned, min(ANN_DOUBLING_FROM, 4 * side.scanned))
        if depth >= 0:
            size = min(size, max(2 * side.scanned, int(depth / ANN_TRUSTED_FRACTION) * 2))
        if size <= ann_limit(plan.namespace):
            return Refill(component, Phase.ANN, size, after=side.reach)
        return Refill(component, Phase.EXACT, exact_chunk(plan.namespace, 0), after=None, skip_handed_out=True)
    if side.exhausted:
        return None
    size = exact_chunk(plan.namespace, side.scanned)
    catching_up = side.catch_up is not None and (side.horizon is None or _before(side.horizon, side.catch_up))
    return Refill(component, Phase.EXACT, size, after=side.horizon, skip_handed_out=catching_up)


def exact_chunk(namespace: Namespace, last: int) -> int:
    """The size of the next exact chunk after one of `last` rows (0: none yet, as after
    the switch from the ANN phase)."""
    cap = max(EXACT_MIN_MAX_CHUNK, namespace.vector_count // EXACT_CHUNK_FRACTION)
    if not uses_exact_search(namespace):
        return cap
    return min(cap, 2 * last if last else EXACT_FIRST_CHUNK)


def _before(a: Candidate, b: Candidate) -> bool:
    return (a.distance, a.pk) <= (b.distance, b.pk)


def fetch(plan: SearchPlan, refill: Refill, handle: uuid.UUID) -> Fetched:
    """Run the scan a refill asks for (no lock held)."""
    if refill.phase == Phase.ANN:
        assert plan.spec.vector is not None
        rows = Vector.objects.in_namespace(plan.namespace).matching(plan.spec.filter)
        rows = rows.with_dense_distance(plan.index, plan.spec.vector, ann=True)
        scan = ann_scan(refill.size, ann_ef_search(refill.size))
        candidates = rows.nearest_ann(refill.size, scan)
        if len(candidates) < refill.size:
            # The scan gave up before `size` rows (a selective filter, or its budget):
            # the index no longer pays for this query.
            return Fetched(refill, [], None, ann_over=True)
        trusted = max(1, int(len(candidates) * ANN_TRUSTED_FRACTION))
        horizon, low_water = candidates[trusted - 1], _low_water(candidates[:trusted])
        if refill.after is not None:
            # Left out, not dropped by the `next` that reads them: they would score above
            # what it has handed out (docs/resumable-queries.md, the ANN phase).
            after = refill.after
            candidates = [c for c in candidates if (after.distance, after.pk) < (c.distance, c.pk)]
        return Fetched(refill, candidates, horizon, low_water)
    if refill.skip_handed_out:
        candidates = _exact_chunk_skipping(plan, refill, handle)
    else:
        candidates = plan.candidates(refill.component, limit=refill.size, after=refill.after, exact=True)
    exhausted = len(candidates) < refill.size
    return Fetched(
        refill,
        candidates,
        candidates[-1] if candidates else refill.after,
        None if exhausted else _low_water(candidates),
        exhausted=exhausted,
    )


def ann_ef_search(size: int) -> int:
    """The candidate list of an HNSW scan of `size` rows: the ordinary one for a start of
    an ordinary page size (it costs what an ordinary query costs), twice the rows beyond
    (pgvector's maximum, 1,000, from 500 rows on). Measured at 1,000,000 vectors:
    the best 200 of a 400-row scan have recall 0.951 at ef_search 400, 0.980 at 800."""
    if size <= START_ROWS:
        return settings.VECSITE_HNSW_EF_SEARCH
    return min(ANN_EF_SEARCH, max(settings.VECSITE_HNSW_EF_SEARCH, 2 * size))


def _low_water(usable: list[Candidate]) -> Candidate | None:
    """Where a refill should be asked for: once results pass this candidate, a quarter of
    what the refill made usable is gone, and the next one has the rest to arrive in."""
    return usable[len(usable) // REFILL_AT_FRACTION] if usable else None


def _exact_chunk_skipping(plan: SearchPlan, refill: Refill, handle: uuid.UUID) -> list[Candidate]:
    """An exact chunk that leaves out ids this handle handed out (catching up after the
    ANN phase: what the index missed comes back here). It reads the nearest `size` rows
    plus as many as were handed out and leaves those out here: as an anti-join in SQL the
    planner, expecting one row handed out, could put the join under the sort and compare
    every row of the namespace with every id handed out (minutes at 1,000,000 vectors)."""
    assert plan.spec.vector is not None
    handed_out = set(HandedOut.objects.filter(query_id=handle).values_list("key", flat=True))
    rows = Vector.objects.in_namespace(plan.namespace).matching(plan.spec.filter)
    rows = rows.with_dense_distance(plan.index, plan.spec.vector, ann=False).after(refill.after)
    nearest = rows.nearest_with_keys(refill.size + len(handed_out))
    return [candidate for candidate, key in nearest if key not in handed_out][: refill.size]


def merge(query: ResumableQuery, fetched: Fetched) -> int:
    """Put fetched candidates into the side's buffer and move its progress on, holding the
    handle's row lock. Returns how many candidates went in."""
    added = store(query.pk, fetched)
    advance(query, fetched, added)
    return added


def store(handle: uuid.UUID, fetched: Fetched) -> int:
    """Buffer fetched candidates not buffered yet and never handed out (by either side).
    Needs no lock: every buffered row is a true candidate with its distance, and none is
    handed out beyond the side's horizon, which only `advance` moves."""
    candidates = [] if fetched.ann_over else fetched.candidates
    if not candidates:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO search_bufferedcandidate (query_id, component, vector_id, distance) "
            "SELECT %s, %s, t.vector_id, t.distance FROM unnest(%s::bigint[], %s::float8[]) AS t(vector_id, distance) "
            "WHERE NOT EXISTS (SELECT 1 FROM search_handedout h WHERE h.query_id = %s AND h.vector_id = t.vector_id) "
            # In vector order: a background refill and a `next` storing overlapping rows of
            # one handle then lock them in the same order and never deadlock.
            "ORDER BY t.vector_id ON CONFLICT DO NOTHING",
            [handle, fetched.refill.component, [c.pk for c in candidates], [c.distance for c in candidates], handle],
        )
        added: int = cursor.rowcount
    return added


def advance(query: ResumableQuery, fetched: Fetched, added: int) -> None:
    """Move the side's progress on past stored candidates; the caller holds the handle's
    row lock. A refill that another got ahead of moves nothing."""
    progress = query.progress
    side = progress.side(fetched.refill.component)
    side.buffered += added
    stored = [] if fetched.ann_over else fetched.candidates
    if side.floor is not None and stored:
        # What `store` put in may lie nearer than where reading the buffer starts.
        side.floor = min(side.floor, min(c.distance for c in stored))
    if side.phase == Phase.ANN and (fetched.ann_over or fetched.refill.phase == Phase.EXACT):
        _switch_to_exact(progress, side)
        if fetched.ann_over:
            return
    if fetched.refill.phase != side.phase or not _moves_on(side, fetched):
        return  # stale: another refill got further first
    side.scanned = max(side.scanned, fetched.refill.size)
    if fetched.horizon is not None and (side.horizon is None or _before(side.horizon, fetched.horizon)):
        side.horizon = fetched.horizon
        side.low_water = fetched.low_water
    if fetched.refill.phase == Phase.EXACT:
        side.exhausted = fetched.exhausted


def _moves_on(side: SideProgress, fetched: Fetched) -> bool:
    """An exact chunk moves on only where the buffer's keyset ends; an ANN scan only if
    it is larger than the last (a scan from the top covers every smaller one)."""
    if fetched.refill.phase == Phase.ANN:
        return fetched.refill.size > side.scanned
    return fetched.refill.after == side.horizon


def _switch_to_exact(progress: Progress, side: SideProgress) -> None:
    """End the ANN phase: exact scans start from the top, leaving out what was handed out
    until they pass the farthest candidate handed out. What the ANN phase buffered stays:
    those are true candidates too, handed out once the exact horizon reaches them."""
    side.phase = Phase.EXACT
    side.floor = None  # the exact scans start from the top
    side.horizon = None
    side.low_water = None
    side.scanned = 0
    side.exhausted = False
    side.catch_up = side.reach
    # What the index missed comes first in the exact phase and may score above the last
    # result handed out: the one place where scores may rise (docs/resumable-queries.md).
    progress.last_score = None


def refill_now(query: ResumableQuery, plan: SearchPlan, component: Component, side: SideProgress, depth: int) -> bool:
    """Refill a side while serving a call (the handle is locked) so that it reaches past
    `depth` results; False when it has nothing more to fetch."""
    refill = next_refill(plan, component, side, depth=depth)
    if refill is None:
        return False
    started = time.perf_counter()
    merge(query, fetch(plan, refill, query.pk))
    seconds = time.perf_counter() - started
    REFILLS.labels("inline").observe(seconds)
    logger.info(
        "resumable query %s waited %.0f ms for a refill (%s, %s rows)",
        query.pk,
        seconds * 1000,
        refill.phase,
        refill.size,
    )
    return True


def wants_background_refill(side: SideProgress) -> bool:
    """Whether to fetch ahead now: once the results handed out pass the low-water mark of
    the last refill (a quarter of what it made usable)."""
    if not settings.VECSITE_RESUMABLE_BACKGROUND_REFILL or side.low_water is None or side.reach is None:
        return False
    if side.refill_requested is not None and time.time() - side.refill_requested < REFILL_RETRY_SECONDS:
        return False
    return _before(side.low_water, side.reach)


def request_background_refill(query: ResumableQuery, component: Component, side: SideProgress) -> None:
    """Queue a refill task for after the caller's transaction commits. The task is named,
    not imported: tasks call services, not the other way round."""
    side.refill_requested = time.time()
    handle = str(query.pk)

    def send() -> None:
        try:
            current_app.send_task(REFILL_TASK, args=[handle, str(component)], retry=False)
        except Exception:  # a broker outage must not fail the call: `next` refills by itself
            logger.exception("could not queue a background refill for resumable query %s", handle)

    transaction.on_commit(send)


def resumable_refill(*, handle: uuid.UUID, component: Component) -> int:
    """Fetch one side's next candidates ahead of its client (the Celery task's service).
    The scan holds no lock; the merge locks the handle briefly. Returns rows added."""
    query = ResumableQuery.objects.select_related("index", "namespace").filter(uuid=handle).active().first()
    if query is None:
        return 0
    plan = SearchPlan(index=query.index, namespace=query.namespace, spec=stored_spec(query))
    side = query.progress.side(component)
    refill = next_refill(plan, component, side)
    if refill is None:
        return 0
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # One core for the background scan: an exact chunk at 1,000,000 vectors ran as a
        # parallel scan on every core for seconds, and the client's `next` calls slowed
        # from 11 ms to 100-150 ms meanwhile (a 2-core machine, measured).
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
        fetched = fetch(plan, refill, handle)
    try:
        added, complete = _store_giving_way(handle, fetched)  # before the lock: `next` calls go on meanwhile
    except IntegrityError:
        return 0  # the handle was stopped meanwhile
    with transaction.atomic():
        locked = ResumableQuery.objects.select_for_update(no_key=True).filter(uuid=handle).first()
        if locked is None:
            return 0
        if not complete:
            # What went in is counted; the horizon stays, and the refill is asked for again.
            locked.progress.side(component).buffered += added
            locked.save(update_fields=["progress"])
            logger.info("resumable query %s: a background refill gave way to its next calls", handle)
            return added
        advance(locked, fetched, added)
        locked.progress.side(component).refill_requested = None
        locked.save(update_fields=["progress"])
    seconds = time.perf_counter() - started
    REFILLS.labels("background").observe(seconds)
    logger.info(
        "refilled resumable query %s in the background: %s %s rows, %d new, %.0f ms",
        handle,
        refill.phase,
        refill.size,
        added,
        seconds * 1000,
    )
    return added


# A background store that waits on a row a `next` is inserting gives up after this long
# and tries again: a `next` may store twice in one transaction (two refills), in an order
# that could deadlock with it; the background refill, not the client, must be the one to
# yield, well before Postgres's deadlock_timeout (1 s) picks a victim, and soon enough
# that a `next` caught waiting on it loses a few pages' time at most (the scale bench's
# walk at 10,000 vectors: slowest call 137 ms at 200 ms here, 16 ms at 25 ms).
STORE_LOCK_TIMEOUT_MS = 25
STORE_ATTEMPTS = 4
# Rows a background store commits at a time. Every commit flushes the WAL written before
# it, so a `next` committing while a 20,000-row store (an exact chunk at 1,000,000 vectors)
# flushes waited for all of it: 170-240 ms, measured, against a median call of 11 ms.
STORE_BATCH = 1000


def _store_giving_way(handle: uuid.UUID, fetched: Fetched) -> tuple[int, bool]:
    """Store a background refill's rows a batch at a time, yielding to the handle's `next`
    calls on a lock conflict. Returns the rows added and whether every batch went in
    (a batch that kept conflicting stops the store; what went in stays: every buffered
    row is a true candidate)."""
    added = 0
    for begin in range(0, len(fetched.candidates), STORE_BATCH):
        batch = _store_batch_giving_way(
            handle, replace(fetched, candidates=fetched.candidates[begin : begin + STORE_BATCH])
        )
        if batch is None:
            return added, False
        added += batch
    return added, True


def _store_batch_giving_way(handle: uuid.UUID, fetched: Fetched) -> int | None:
    """One batch of `_store_giving_way`; None when it kept conflicting."""
    for attempt in range(STORE_ATTEMPTS):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{STORE_LOCK_TIMEOUT_MS}ms"])
                return store(handle, fetched)
        except OperationalError as error:
            if not isinstance(error.__cause__, LockNotAvailable):
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def stored_spec(query: ResumableQuery) -> QuerySpec:
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
