"""Constant cost per page, guarded: the SQL statements of start, next and query are pinned.

A page served from the buffer reads the handle, the buffer and the records, and saves the
handle's progress; it never depends on how deep the handle is. These tests fail when a
change adds a statement per page (or per result) to the hot path.
"""

from __future__ import annotations

import numpy as np
import pytest

from search.models import Index
from search.services.query import query
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_next, resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert

DIM = 8
COUNT = 3_000


@pytest.fixture
def index(make_index) -> Index:
    rng = np.random.default_rng(3)
    index: Index = make_index("counted", dimension=DIM).index
    vectors = rng.normal(size=(COUNT, DIM))
    records = [RecordInput(id=f"v{i}", vector=vectors[i].tolist(), metadata={"i": i}) for i in range(COUNT)]
    vectors_upsert(index=index, namespace="", records=records)
    return index


SPEC = QuerySpec(vector=[0.3] * DIM, top_k=10, include=Include(metadata=True))

# Handle row (locked), buffer page, records with their vectors, the page taken out of the
# buffer and recorded as handed out (one statement), progress saved: the same five
# statements at any depth, plus the transaction's savepoint bookkeeping.
NEXT_FROM_BUFFER = 7
# Namespace, the first scan, the records of its first page; then the cap check (index
# lock, count), the handle inserted with its progress, and its buffer and first page
# stored in one statement, plus the savepoint bookkeeping.
START = 9
# Namespace, candidates, records.
QUERY = 3


def test_it_serves_next_from_the_buffer_in_constant_statements_at_any_depth(
    index: Index, django_assert_max_num_queries
) -> None:
    handle = resumable_query_start(index=index, spec=SPEC).handle
    assert handle is not None
    with django_assert_max_num_queries(NEXT_FROM_BUFFER):
        resumable_query_next(index=index, handle=handle, additional_k=10)
    # Deep: past the first chunk (1,000) and its refill, in a later chunk.
    resumable_query_next(index=index, handle=handle, additional_k=1_000)
    resumable_query_next(index=index, handle=handle, additional_k=1_000)
    with django_assert_max_num_queries(NEXT_FROM_BUFFER):
        batch = resumable_query_next(index=index, handle=handle, additional_k=10)
    assert batch.returned == 2_030 and len(batch.records) == 10


def test_it_starts_a_resumable_query_in_a_fixed_number_of_statements(
    index: Index, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(START):
        batch = resumable_query_start(index=index, spec=SPEC)
    assert len(batch.records) == 10


def test_it_answers_a_query_in_a_fixed_number_of_statements(index: Index, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(QUERY):
        records = query(index=index, spec=SPEC)
    assert len(records) == 10
