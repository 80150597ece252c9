"""Pages through scores closer than float32 rounding: ranked exactly, each row loaded once.

pgvector orders by float32 distances; where hundreds of scores lie within that rounding of
each other (deep in a dense namespace), every page has to read past all of them to rank
ten. The scores a read computes stay with the buffered rows, so later pages rank by them
instead of loading and scoring the same rows again (docs/resumable-queries.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from search.models import Index
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_next, resumable_query_start
from search.services.scoring import exact_dense_scores
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert

DIM = 16
TIES = 400  # scores within 5e-7 of each other, under the rounding bound of 16 float32 products
OTHERS = 600
QUERY = np.linspace(-1.0, 1.0, DIM).astype(np.float32)


@pytest.fixture
def vectors() -> np.ndarray:
    rng = np.random.default_rng(11)
    direction = QUERY / np.linalg.norm(QUERY)
    sideways = rng.normal(size=(TIES, DIM))
    sideways -= np.outer(sideways @ direction, direction)
    sideways /= np.linalg.norm(sideways, axis=1, keepdims=True)
    ties = direction + rng.uniform(0.0, 1.4e-3, size=(TIES, 1)) * sideways
    others = rng.normal(size=(OTHERS, DIM))
    return np.vstack([ties, others]).astype(np.float32)


@pytest.fixture
def index(make_index: Callable[..., Any], vectors: np.ndarray) -> Index:
    index: Index = make_index("ties", dimension=DIM).index
    records = [RecordInput(id=f"v{i}", vector=vector.tolist()) for i, vector in enumerate(vectors)]
    vectors_upsert(index=index, namespace="", records=records)
    return index


def brute_force(vectors: np.ndarray) -> list[str]:
    scores = exact_dense_scores("COSINE", QUERY.tolist(), {i: v.tolist() for i, v in enumerate(vectors)})
    return [f"v{i}" for i in sorted(scores, key=lambda i: (-scores[i], i))]


RECORD_LOAD = re.compile(r'FROM "search_vector" WHERE .*?"search_vector"\."id" IN \(([^)]*)\)')


def rows_loaded(captured: CaptureQueriesContext) -> int:
    """How many vector rows the captured statements loaded by primary key."""
    return sum(
        match.group(1).count(",") + 1
        for query in captured.captured_queries
        if (match := RECORD_LOAD.search(query["sql"]))
    )


def test_it_ranks_pages_through_near_ties_exactly_and_loads_each_row_about_once(
    index: Index, vectors: np.ndarray
) -> None:
    spec = QuerySpec(vector=QUERY.tolist(), top_k=10, include=Include())
    first = resumable_query_start(index=index, spec=spec)
    assert first.handle is not None
    got = [record.id for record in first.records]
    with CaptureQueriesContext(connection) as captured:
        while len(got) < TIES + 100:
            got += [r.id for r in resumable_query_next(index=index, handle=first.handle, additional_k=10).records]
    assert got == brute_force(vectors)[: len(got)]
    # Every page ranks against all 400 near-ties; scored once, a row is loaded again only
    # when it is about to be handed out (to check it still is what was scored).
    assert rows_loaded(captured) <= 2 * len(got) + 200
