"""Two refills of one handle storing overlapping candidates at once (a Celery worker's and
a `next` call's) wait for each other instead of deadlocking: both insert in vector order,
so neither can hold a row the other needs while waiting for one it holds. (The load
suite, bench/loadtest.py, saw the deadlock as a 500 on `next` at 32 clients.)"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import transaction

from search.models import BufferedCandidate, Candidate, Component, HandedOut, Index, Vector
from search.progress import Phase
from search.services import refill
from search.services.records import Include, RecordInput
from search.services.refill import Fetched, Refill, _store_giving_way, store
from search.services.resumable import resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert
from tests.resumable.helpers import side_by_side

pytestmark = pytest.mark.django_db(transaction=True)


def fetched(*pks: int) -> Fetched:
    return Fetched(Refill(Component.DENSE, Phase.EXACT, len(pks)), [Candidate(pk, 0.5) for pk in pks], None)


def handle_with_two_free_rows(index: Index) -> tuple[uuid.UUID, int, int]:
    """A started handle on 300 vectors, and two rows (low pk, high pk) neither buffered
    nor handed out by it."""
    vectors_upsert(
        index=index, namespace="", records=[RecordInput(id=f"v{i}", vector=[1.0, i / 300]) for i in range(300)]
    )
    handle = resumable_query_start(index=index, spec=QuerySpec(vector=[1.0, 0.0], top_k=1, include=Include())).handle
    assert handle is not None
    taken = set(BufferedCandidate.objects.filter(query_id=handle).values_list("vector_id", flat=True))
    taken |= set(HandedOut.objects.filter(query_id=handle).values_list("vector_id", flat=True))
    low, high = sorted(set(Vector.objects.filter(index=index).values_list("pk", flat=True)) - taken)[:2]
    return handle, low, high


def test_overlapping_stores_of_one_handle_wait_for_each_other(make_index):
    handle, low, high = handle_with_two_free_rows(make_index("locks", dimension=2).index)
    first_stored = threading.Event()

    def first() -> None:  # holds `low`, then wants `high`
        with transaction.atomic():
            store(handle, fetched(low))
            first_stored.set()
            time.sleep(1.0)  # the other store is under way meanwhile
            store(handle, fetched(high))

    def second() -> None:  # wants both, listed high first
        first_stored.wait()
        with transaction.atomic():
            store(handle, fetched(high, low))

    assert side_by_side(first, second) == []
    stored = BufferedCandidate.objects.filter(query_id=handle, vector_id__in=[low, high])
    assert sorted(stored.values_list("vector_id", flat=True)) == [low, high]


def test_a_background_store_gives_way_to_a_next_that_stores_twice(make_index):
    """A `next` that refills twice in one transaction holds a row of its first store while
    its second wants one the background store holds: the background store yields (and
    tries again), so the client's call is never the deadlock's victim."""
    handle, low, high = handle_with_two_free_rows(make_index("yields", dimension=2).index)
    high_stored, background_waits = threading.Event(), threading.Event()
    outcome: list[tuple[int, bool]] = []

    def next_call() -> None:  # holds `high`, then wants `low`
        with transaction.atomic():
            store(handle, fetched(high))
            high_stored.set()
            background_waits.wait(timeout=5)
            time.sleep(0.1)  # the background store now holds `low` and waits for `high`
            store(handle, fetched(low))

    def background() -> None:  # in vector order: `low`, then `high`
        high_stored.wait()
        background_waits.set()
        outcome.append(_store_giving_way(handle, fetched(low, high)))

    assert side_by_side(next_call, background) == []
    assert len(outcome) == 1  # it stored nothing new or gave up; it did not deadlock
    stored = BufferedCandidate.objects.filter(query_id=handle, vector_id__in=[low, high])
    assert sorted(stored.values_list("vector_id", flat=True)) == [low, high]


def test_a_background_store_commits_a_batch_at_a_time_and_says_when_it_stopped_short(make_index, monkeypatch):
    """A large background store commits in batches (a `next` committing meanwhile waits for
    one batch's WAL, not the whole store's); when a batch keeps meeting a `next`'s rows, the
    batches before it stay stored and the store reports that it did not finish."""
    handle, low, high = handle_with_two_free_rows(make_index("batches", dimension=2).index)
    monkeypatch.setattr(refill, "STORE_BATCH", 1)
    holding, finished = threading.Event(), threading.Event()
    outcome: list[tuple[int, bool]] = []

    def next_call() -> None:  # holds `high` until the background store is done
        with transaction.atomic():
            store(handle, fetched(high))
            holding.set()
            finished.wait(timeout=10)

    def background() -> None:
        holding.wait()
        outcome.append(_store_giving_way(handle, fetched(low, high)))
        finished.set()

    assert side_by_side(next_call, background) == []
    assert outcome == [(1, False)]  # `low` went in, in a batch of its own; `high` kept conflicting
    stored = BufferedCandidate.objects.filter(query_id=handle, vector_id__in=[low, high])
    assert sorted(stored.values_list("vector_id", flat=True)) == [low, high]
