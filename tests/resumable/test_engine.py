"""The resumable engine's guarantees (docs/resumable-queries.md), each checked on a namespace
large enough for the ANN phase: a first page from one HNSW scan, no id twice whatever
happens to the vectors, a drain that returns every vector once (those the index missed
included), scores that never rise but at the one switch from the ANN phase to the exact
phase, filters that hold with full pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from search.filtering import CompiledFilter
from search.models import Index, ResumableQuery, Vector, VectorQuerySet
from search.progress import Phase
from search.services.planning import RANK_PAD
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_next, resumable_query_start
from search.services.scoring import exact_dense_scores
from search.services.specs import QuerySpec, ResumableBatch
from search.services.vectors import vectors_delete, vectors_upsert

DIM = 16
COUNT = 2_000


@pytest.fixture
def ann_settings(settings: Any) -> Any:
    # The ANN phase on a namespace this small: above the exact threshold, and HNSW scans
    # allowed up to half of it before the exact phase.
    settings.VECSITE_EXACT_SEARCH_MAX_VECTORS = 100
    settings.VECSITE_RESUMABLE_ANN_MAX_FRACTION = 0.5
    return settings


@pytest.fixture
def vectors() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.normal(size=(COUNT, DIM)).astype(np.float32)


@pytest.fixture
def index(make_index: Callable[..., Any], vectors: np.ndarray) -> Index:
    index: Index = make_index("engine", dimension=DIM).index
    records = [RecordInput(id=f"v{i}", vector=vectors[i].tolist(), metadata={"bucket": i % 100}) for i in range(COUNT)]
    vectors_upsert(index=index, namespace="", records=records)
    return index


QUERY = np.linspace(-1.0, 1.0, DIM).astype(np.float32).tolist()


def start(index: Index, top_k: int = 10, filter_text: str = "") -> ResumableBatch:
    spec = QuerySpec(
        vector=QUERY,
        top_k=top_k,
        include=Include(metadata=True),
        filter=CompiledFilter.compile(filter_text) if filter_text else None,
    )
    return resumable_query_start(index=index, spec=spec)


def pages(index: Index, first: ResumableBatch, size: int) -> Iterator[ResumableBatch]:
    """The first batch, then `next(size)` until the results run out."""
    assert first.handle is not None
    batch = first
    yield batch
    while not batch.finished:
        batch = resumable_query_next(index=index, handle=first.handle, additional_k=size)
        yield batch


def phase(handle: Any) -> Phase:
    return ResumableQuery.objects.get(uuid=handle).progress.dense.phase


@pytest.fixture
def blind_index(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """HNSW scans that never see one row in seven (an index with blind spots, as real
    ones have): what the ANN phase misses, the exact phase must bring back."""
    hidden: set[int] = set()
    real = VectorQuerySet.nearest_ann

    def nearest_ann(self: VectorQuerySet, limit: int, scan: Any) -> Any:
        # Read further until `limit` visible rows are found (or the rows run out), so that
        # a scan never looks as if it gave up early, whatever the rows' keys.
        wanted = limit + limit // 6 + 1
        while True:
            found = real(self, wanted, scan)
            visible = [c for c in found if c.pk % 7 != 0]
            if len(visible) >= limit or len(found) < wanted:
                break
            wanted *= 2
        hidden.update(c.pk for c in found if c.pk % 7 == 0)
        return visible[:limit]

    monkeypatch.setattr(VectorQuerySet, "nearest_ann", nearest_ann)
    return hidden


def test_it_starts_a_large_namespace_with_one_hnsw_scan(ann_settings: Any, index: Index) -> None:
    with CaptureQueriesContext(connection) as captured:
        first = start(index)
    searches = [q["sql"] for q in captured.captured_queries if "<=>" in q["sql"]]
    assert len(searches) == 1
    assert f"::vector({DIM})" in searches[0]  # the HNSW index's own expression
    assert any("hnsw.ef_search" in q["sql"] for q in captured.captured_queries)
    assert phase(first.handle) == Phase.ANN
    assert len(first.records) == 10


def test_a_page_held_back_by_what_a_scan_trusts_refills_instead_of_reading_further(
    ann_settings: Any, index: Index
) -> None:
    handle = start(index).handle  # one scan of 100 rows, of which the nearest 50 are trusted
    assert handle is not None
    page = resumable_query_next(index=index, handle=handle, additional_k=45)
    assert len(page.records) == 45
    # Results 51-55 waited for a refill, not for a longer read: the handle does not go on
    # reading past its pages as if near-ties had held them back.
    assert ResumableQuery.objects.get(uuid=handle).progress.dense.pad == RANK_PAD


def test_it_drains_every_vector_once_including_what_the_index_missed(
    ann_settings: Any, index: Index, blind_index: set[int]
) -> None:
    ids = [record.id for batch in pages(index, start(index, top_k=7), 61) for record in batch.records]
    assert blind_index  # the ANN phase did miss some
    assert len(ids) == len(set(ids)) == COUNT


def test_it_lets_scores_rise_only_at_the_switch_to_the_exact_phase(
    ann_settings: Any, index: Index, blind_index: set[int]
) -> None:
    first = start(index, top_k=10)
    scores: list[float] = []
    switch_batch = None
    for batch in pages(index, first, 25):
        scores.extend(record.score or 0.0 for record in batch.records)
        if switch_batch is None and phase(first.handle) == Phase.EXACT:
            switch_batch = (len(scores) - len(batch.records), len(scores))
    rises = [i for i in range(1, len(scores)) if scores[i] > scores[i - 1]]
    # What the index missed comes back first in the exact phase, above the last result of
    # the ANN phase: one rise, in the batch that made the switch, and none elsewhere.
    assert switch_batch is not None and len(rises) == 1
    [rise] = rises
    assert switch_batch[0] <= rise < switch_batch[1]
    assert scores[:rise] == sorted(scores[:rise], reverse=True)
    assert scores[rise:] == sorted(scores[rise:], reverse=True)


def test_it_never_rises_on_a_small_namespace(index: Index, vectors: np.ndarray) -> None:
    scores = [record.score or 0.0 for batch in pages(index, start(index, top_k=3), 37) for record in batch.records]
    assert phase_of_last_handle() == Phase.EXACT
    assert scores == sorted(scores, reverse=True)


def phase_of_last_handle() -> Phase:
    return ResumableQuery.objects.order_by("-created_at").first().progress.dense.phase  # type: ignore[union-attr]  # a handle was just started


def test_it_ranks_batches_exactly_like_brute_force_on_a_small_namespace(index: Index, vectors: np.ndarray) -> None:
    first = start(index, top_k=50)
    got = [record.id for batch in pages(index, first, 150) for record in batch.records][:500]
    truth = brute_force(vectors)[:500]
    assert got == truth


def brute_force(vectors: np.ndarray) -> list[str]:
    """Every id best first by the double-precision score (ties by insertion order)."""
    scores = exact_dense_scores("COSINE", QUERY, {i: vectors[i].tolist() for i in range(len(vectors))})
    return [f"v{i}" for i in sorted(scores, key=lambda i: (-scores[i], i))]


def test_it_never_repeats_an_id_while_vectors_change(ann_settings: Any, index: Index, vectors: np.ndarray) -> None:
    first = start(index, top_k=20)
    assert first.handle is not None
    seen = [record.id for record in first.records]
    # Churn among the results already handed out: one moved to the far end of the
    # ranking, one deleted and inserted anew (a new row, the same id), one re-upserted
    # unchanged; and one not yet handed out, moved to the very top.
    far = (-np.asarray(QUERY)).tolist()
    vectors_upsert(index=index, namespace="", records=[RecordInput(id=seen[0], vector=far)])
    vectors_delete(index=index, namespace="", ids=[seen[1]])
    vectors_upsert(index=index, namespace="", records=[RecordInput(id=seen[1], vector=vectors[5].tolist())])
    vectors_upsert(
        index=index, namespace="", records=[RecordInput(id=seen[2], vector=vectors[int(seen[2][1:])].tolist())]
    )
    unseen = next(f"v{i}" for i in range(COUNT) if f"v{i}" not in seen)
    vectors_upsert(index=index, namespace="", records=[RecordInput(id=unseen, vector=QUERY)])
    for batch in islice(pages(index, first, 97), 1, None):
        seen.extend(record.id for record in batch.records)
    assert len(seen) == len(set(seen))
    # Every vector that stayed as it was came back exactly once.
    assert set(seen) >= {f"v{i}" for i in range(COUNT)} - {unseen}


def test_it_keeps_an_index_made_exact_exact_at_any_size(ann_settings: Any, index: Index, vectors: np.ndarray) -> None:
    Index.objects.filter(pk=index.pk).update(exact_resumable=True)
    index.refresh_from_db()
    first = start(index, top_k=40)
    assert phase(first.handle) == Phase.EXACT
    got = [record.id for batch in pages(index, first, 160) for record in batch.records][:400]
    assert got == brute_force(vectors)[:400]


def test_it_gives_full_pages_under_a_selective_filter_without_a_scan_per_page(ann_settings: Any, index: Index) -> None:
    first = start(index, top_k=3, filter_text="bucket = 7")
    batches = [first]
    with CaptureQueriesContext(connection) as captured:
        batches.extend(islice(pages(index, first, 3), 1, None))
    sizes = [len(batch.records) for batch in batches]
    assert sum(sizes) == COUNT // 100
    assert all(size == 3 for size in sizes[:-2])  # full pages until the end
    assert all(record.metadata == {"bucket": 7} for batch in batches for record in batch.records)
    scans = [q for q in captured.captured_queries if "<=>" in q["sql"]]
    assert len(scans) <= 2, [q["sql"][:120] for q in scans]


def test_it_keeps_the_filter_for_the_life_of_the_handle(ann_settings: Any, index: Index) -> None:
    first = start(index, top_k=5, filter_text="bucket < 10")
    assert first.handle is not None
    Vector.objects.filter(key__in=[f"v{i}" for i in range(0, COUNT, 100)]).update(metadata={"bucket": 99})
    ids = [record.id for batch in pages(index, first, 50) for record in batch.records]
    moved = {f"v{i}" for i in range(0, COUNT, 100)}
    assert not (set(ids[5:]) & moved)
    assert all(int(i[1:]) % 100 < 10 for i in ids)
