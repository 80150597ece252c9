"""The resumable-query contract, point by point, through the official SDK over HTTP."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from upstash_vector.errors import UpstashError

from search.models import ResumableQuery

DIM = 4


def random_vectors(count: int, seed: int = 7) -> list[tuple[str, list[float], dict]]:
    rng = np.random.default_rng(seed)
    return [(f"v{i}", rng.normal(size=DIM).tolist(), {"i": i}) for i in range(count)]


@pytest.fixture
def filled(live_index):
    live = live_index(dimension=DIM)
    sdk = live.sdk()
    sdk.upsert(random_vectors(250))
    return live, sdk


QUERY = [0.3, -0.2, 0.9, 0.1]


def gather(handle, first, steps):
    batches = [first]
    for size in steps:
        batches.append(handle.fetch_next(size))
    return batches


def test_it_returns_exactly_one_ordinary_query_in_batches(filled):
    _, sdk = filled
    first, handle = sdk.resumable_query(vector=QUERY, top_k=7, include_metadata=True)
    batches = gather(handle, first, [1, 13, 50, 29])
    combined = [r for batch in batches for r in batch]
    ordinary = sdk.query(vector=QUERY, top_k=100, include_metadata=True)
    assert [(r.id, r.score, r.metadata) for r in combined] == [(r.id, r.score, r.metadata) for r in ordinary]
    assert len({r.id for r in combined}) == len(combined) == 100
    handle.stop()


def test_it_breaks_ties_by_insertion_order_without_duplicates_or_skips(live_index):
    sdk = live_index(dimension=2).sdk()
    # Thirty copies of one vector: every score ties.
    sdk.upsert([(f"t{i:02d}", [1.0, 1.0]) for i in range(30)])
    first, handle = sdk.resumable_query(vector=[1.0, 1.0], top_k=4)
    batches = gather(handle, first, [5, 5, 5, 5, 5, 5, 5])
    ids = [r.id for batch in batches for r in batch]
    assert ids == [f"t{i:02d}" for i in range(30)]
    assert all(r.score == 1 for batch in batches for r in batch)


def test_it_returns_empty_batches_once_exhausted(filled):
    _, sdk = filled
    first, handle = sdk.resumable_query(vector=QUERY, top_k=200)
    rest = handle.fetch_next(100)
    assert len(first) + len(rest) == 250
    assert handle.fetch_next(10) == []
    assert handle.fetch_next(10) == []
    handle.stop()


def test_it_refuses_next_and_end_after_end(filled):
    _, sdk = filled
    _, handle = sdk.resumable_query(vector=QUERY, top_k=2)
    handle.stop()
    with pytest.raises(UpstashError, match="does not exist, was stopped, or has expired"):
        handle.fetch_next(2)
    with pytest.raises(UpstashError, match="does not exist"):
        handle.stop()


def test_it_counts_an_idle_handle_as_gone_before_any_sweep(filled):
    _, sdk = filled
    _, handle = sdk.resumable_query(vector=QUERY, top_k=2, max_idle=60)
    # Pretend the minute passed: the row is still there, but it is expired.
    ResumableQuery.objects.filter(uuid=handle._uid).update(expires_at="2000-01-01T00:00:00Z")
    with pytest.raises(UpstashError, match="has expired"):
        handle.fetch_next(2)
    with pytest.raises(UpstashError, match="has expired"):
        handle.stop()


def test_it_extends_the_idle_deadline_on_every_call(filled):
    _, sdk = filled
    _, handle = sdk.resumable_query(vector=QUERY, top_k=2, max_idle=30)
    before = ResumableQuery.objects.get(uuid=handle._uid).expires_at
    handle.fetch_next(1)
    after = ResumableQuery.objects.get(uuid=handle._uid)
    assert after.expires_at > before
    assert (after.expires_at - after.last_used_at).total_seconds() == 30


def test_it_hides_a_handle_from_other_indexes(live_index):
    mine = live_index("mine", dimension=DIM)
    theirs = live_index("theirs", dimension=DIM)
    mine.sdk().upsert(random_vectors(20))
    theirs.sdk().upsert(random_vectors(20))
    _, handle = mine.sdk().resumable_query(vector=QUERY, top_k=2)
    foreign = theirs.sdk()
    unknown = "9d0cbd5b-8a1e-4c0a-9d44-000000000000"
    for uuid in (handle._uid, unknown):
        with pytest.raises(UpstashError) as caught:
            foreign._execute_request(payload={"uuid": uuid, "additionalK": 2}, path="/resumable-query-next")
        assert str(caught.value) == f"uuid: Resumable query {uuid} does not exist, was stopped, or has expired"
        with pytest.raises(UpstashError, match="does not exist"):
            foreign._execute_request(payload={"uuid": uuid}, path="/resumable-query-end")
    assert len(handle.fetch_next(2)) == 2  # still alive for its owner


def test_it_never_overlaps_concurrent_next_calls(filled):
    live, sdk = filled
    first, handle = sdk.resumable_query(vector=QUERY, top_k=5)
    seen: list[list[str]] = []
    errors: list[Exception] = []

    def pull() -> None:
        try:
            client = live.sdk()
            for _ in range(5):
                batch = client._execute_request(
                    payload={"uuid": handle._uid, "additionalK": 9}, path="/resumable-query-next"
                )
                seen.append([r["id"] for r in batch])
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ids = [r.id for r in first] + [i for batch in seen for i in batch]
    assert len(ids) == len(set(ids)) == 5 + 4 * 5 * 9
    ordinary = [r.id for r in sdk.query(vector=QUERY, top_k=len(ids))]
    assert sorted(ids) == sorted(ordinary)


def test_it_skips_deleted_vectors_and_shows_updated_metadata(filled):
    _, sdk = filled
    ordinary = sdk.query(vector=QUERY, top_k=21)
    first, handle = sdk.resumable_query(vector=QUERY, top_k=5, include_metadata=True)
    doomed, changed = ordinary[6].id, ordinary[8].id
    sdk.delete(ids=[doomed])
    sdk.update(id=changed, metadata={"changed": True})
    later = handle.fetch_next(15)
    ids = [r.id for r in later]
    assert doomed not in ids
    assert next(r for r in later if r.id == changed).metadata == {"changed": True}
    assert [r.id for r in first] + ids == [r.id for r in ordinary if r.id != doomed]


def test_it_keeps_the_filter_and_include_flags_for_life(filled):
    _, sdk = filled
    first, handle = sdk.resumable_query(vector=QUERY, top_k=3, include_vectors=True, filter="i < 100")
    later = handle.fetch_next(200)
    everything = first + later
    assert len(everything) == 100
    assert all(r.vector is not None and r.metadata is None for r in everything)
    assert handle.fetch_next(5) == []


def test_it_answers_a_missing_namespace_with_an_empty_handle(filled):
    _, sdk = filled
    first, handle = sdk.resumable_query(vector=QUERY, top_k=3, namespace="nowhere")
    assert first == [] and handle._uid != ""  # a stateless handle (docs/api.md#resumable-query)
    assert handle.fetch_next(3) == []
    handle.stop()
    assert "nowhere" not in sdk.list_namespaces()
    assert ResumableQuery.objects.count() == 0


def test_it_works_in_a_named_namespace(live_index):
    sdk = live_index(dimension=DIM).sdk()
    sdk.upsert(random_vectors(30), namespace="books")
    first, handle = sdk.resumable_query(vector=QUERY, top_k=10, namespace="books")
    rest = handle.fetch_next(30)
    assert len(first) + len(rest) == 30
    assert [r.id for r in first + rest] == [r.id for r in sdk.query(vector=QUERY, top_k=30, namespace="books")]


def test_it_works_as_context_managers_sync_and_async(filled):
    live, sdk = filled
    ordinary = [r.id for r in sdk.query(vector=QUERY, top_k=12)]
    first, handle = sdk.resumable_query(vector=QUERY, top_k=4)
    with handle:
        ids = [r.id for r in first] + [r.id for r in handle.fetch_next(8)]
    assert ids == ordinary
    assert ResumableQuery.objects.count() == 0  # leaving the block stopped it

    async def run() -> list[str]:
        index = live.async_sdk()
        first, handle = await index.resumable_query(vector=QUERY, top_k=4)
        async with handle:
            return [r.id for r in first] + [r.id for r in await handle.fetch_next(8)]

    assert asyncio.run(run()) == ordinary
    assert ResumableQuery.objects.count() == 0


def test_it_caps_active_queries_per_index(live_index):
    live = live_index(dimension=DIM, max_active_queries=3)
    sdk = live.sdk()
    sdk.upsert(random_vectors(10))
    handles = [sdk.resumable_query(vector=QUERY, top_k=1)[1] for _ in range(3)]
    with pytest.raises(UpstashError, match=r"already has 3 active resumable queries \(the limit is 3\)"):
        sdk.resumable_query(vector=QUERY, top_k=1)
    handles[0].stop()
    assert sdk.resumable_query(vector=QUERY, top_k=1)[1]._uid


def test_it_survives_a_restart_of_the_web_process(filled, live_server):
    """All state is in Postgres: a fresh client (any process) continues the handle."""
    live, sdk = filled
    first, handle = sdk.resumable_query(vector=QUERY, top_k=3)
    from django.db import connections

    connections.close_all()
    other = live.sdk()
    rest = other._execute_request(payload={"uuid": handle._uid, "additionalK": 3}, path="/resumable-query-next")
    assert [r.id for r in first] + [r["id"] for r in rest] == [r.id for r in sdk.query(vector=QUERY, top_k=6)]
