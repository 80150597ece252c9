"""Large namespaces are searched through the index's own HNSW index; small ones exactly."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from search.services.indexes import IndexSpec, index_create, index_delete
from search.services.query import query
from search.services.records import Include, RecordInput
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert

DIMENSION = 8
LARGE = 2_000


@pytest.fixture(scope="module")
def large_index(django_db_setup, django_db_blocker):
    """An index with LARGE random vectors in "big" and a handful in "small", made once."""
    rng = np.random.default_rng(7)
    with django_db_blocker.unblock():
        credentials = index_create(IndexSpec(name="plan", dimension=DIMENSION))
        vectors = rng.normal(size=(LARGE, DIMENSION)).astype(np.float32)
        vectors_upsert(
            index=credentials.index,
            namespace="big",
            records=[RecordInput(id=f"v{n}", vector=vector.tolist()) for n, vector in enumerate(vectors)],
        )
        vectors_upsert(
            index=credentials.index,
            namespace="small",
            records=[RecordInput(id=f"s{n}", vector=vector.tolist()) for n, vector in enumerate(vectors[:20])],
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE search_vector")  # what autovacuum does for a table this size
    yield credentials.index, vectors
    with django_db_blocker.unblock():
        index_delete(index=credentials.index)


def ann_plan(index, namespace, vector):
    """Run a query, then EXPLAIN its nearest-neighbour SELECT with the session settings it ran under."""
    with CaptureQueriesContext(connection) as captured:
        results = query(index=index, spec=QuerySpec(namespace=namespace, vector=vector, top_k=5))
    statements = [q["sql"] for q in captured.captured_queries]
    settings_sql = [sql for sql in statements if "set_config(" in sql]
    [search_sql] = [sql for sql in statements if "ORDER BY" in sql and "<=>" in sql]
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in settings_sql:
            cursor.execute(sql)
        cursor.execute(f"EXPLAIN {search_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return results, settings_sql, plan


def test_it_searches_a_large_namespace_through_the_hnsw_index(db, large_index, settings):
    settings.VECSITE_EXACT_SEARCH_MAX_VECTORS = 100
    index, vectors = large_index

    results, settings_sql, plan = ann_plan(index, "big", vectors[42].tolist())

    assert f"search_vector_hnsw_{index.pk}" in plan, plan
    assert any("hnsw.ef_search" in sql for sql in settings_sql)
    assert any("hnsw.iterative_scan" in sql for sql in settings_sql)
    assert results[0].id == "v42"
    assert results[0].score == 1


def test_it_searches_a_small_namespace_exactly_without_the_hnsw_index(db, large_index, settings):
    settings.VECSITE_EXACT_SEARCH_MAX_VECTORS = 100
    index, vectors = large_index

    results, settings_sql, plan = ann_plan(index, "small", vectors[3].tolist())

    assert "hnsw" not in plan, plan
    assert settings_sql == []
    assert [r.id for r in results][:1] == ["s3"]
    # Exact search ranks every record by true distance.
    cosine = vectors[:20] @ vectors[3] / (np.linalg.norm(vectors[:20], axis=1) * np.linalg.norm(vectors[3]))
    assert [r.id for r in results] == [f"s{n}" for n in np.argsort(-cosine, kind="stable")[:5]]


def test_it_finds_the_true_nearest_neighbours_through_the_hnsw_index(db, large_index, settings):
    settings.VECSITE_EXACT_SEARCH_MAX_VECTORS = 100
    index, vectors = large_index
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    probes = [0, 500, 1999]
    found = 0
    for probe in probes:
        truth = {f"v{n}" for n in np.argsort(-(unit @ unit[probe]))[:5]}
        results = query(index=index, spec=QuerySpec(namespace="big", vector=vectors[probe].tolist(), top_k=5))
        scores = [r.score or 0.0 for r in results]
        assert scores == sorted(scores, reverse=True)
        found += len(truth & {r.id for r in results})
    assert found >= 0.9 * 5 * len(probes)  # approximate, but with high recall at this size


@pytest.mark.parametrize("exact_max", [10_000, 0], ids=["exact", "hnsw"])
def test_it_keeps_indexes_of_different_dimensions_apart(make_index, settings, exact_max):
    settings.VECSITE_EXACT_SEARCH_MAX_VECTORS = exact_max
    made = {}
    for dimension, similarity in ((2, "COSINE"), (3, "EUCLIDEAN"), (5, "DOT_PRODUCT")):
        index = make_index(f"dim-{dimension}", dimension=dimension, similarity=similarity).index
        basis = np.eye(dimension).tolist()
        vectors_upsert(
            index=index, namespace="", records=[RecordInput(id=f"e{n}", vector=v) for n, v in enumerate(basis)]
        )
        made[dimension] = index

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'search_vector' AND indexname LIKE %s", ["%hnsw%"]
        )
        hnsw_indexes = {row[0] for row in cursor.fetchall()}
    assert {index.hnsw_index_name for index in made.values()} <= hnsw_indexes

    for dimension, index in made.items():
        target = [0.0] * dimension
        target[dimension - 1] = 1.0
        results = query(index=index, spec=QuerySpec(vector=target, top_k=10, include=Include(vectors=True)))
        assert results[0].id == f"e{dimension - 1}"
        assert results[0].score == 1
        assert results[0].vector == target
        assert len(results) == dimension
        assert {len(r.vector or []) for r in results} == {dimension}
