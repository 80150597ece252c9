"""Sparse and hybrid indexes through the official SDK, sync and async."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from upstash_vector.types import FusionAlgorithm, SparseVector, Vector, WeightingStrategy

from search.models import ResumableQuery


def sparse_records(count: int, seed: int = 3) -> list[Vector]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(count):
        indices = sorted(rng.choice(40, size=4, replace=False).tolist())
        values = np.round(rng.uniform(0.1, 1.0, size=4), 3).tolist()
        records.append(Vector(id=f"s{i}", sparse_vector=SparseVector(indices, values), metadata={"i": i}))
    return records


def hybrid_records(count: int, seed: int = 5) -> list[Vector]:
    rng = np.random.default_rng(seed)
    return [
        Vector(id=r.id, vector=rng.normal(size=3).tolist(), sparse_vector=r.sparse_vector, metadata=r.metadata)
        for r in sparse_records(count, seed)
    ]


def sparse_of(record: Vector) -> SparseVector:
    """The record's sparse part, as these tests build it (the SDK also takes tuples)."""
    assert isinstance(record.sparse_vector, SparseVector)
    return record.sparse_vector


def pairs_of(sparse: SparseVector) -> list[tuple[int, float]]:
    assert isinstance(sparse.indices, list) and isinstance(sparse.values, list)  # as built here
    return list(zip(sparse.indices, sparse.values, strict=True))


def exact_sparse_ranking(records: list[Vector], query: SparseVector) -> list[str]:
    """Records sharing an index with the query, by inner product (float32, as pgvector
    sums it), ties in insertion order."""
    weights = dict(pairs_of(query))
    scored: list[tuple[np.float32, int, str]] = []
    for position, record in enumerate(records):
        pairs = pairs_of(sparse_of(record))
        shared = [np.float32(value) * np.float32(weights[i]) for i, value in pairs if i in weights]
        if shared:
            scored.append((-np.sum(np.array(shared, dtype=np.float32), dtype=np.float32), position, str(record.id)))
    return [record_id for _, _, record_id in sorted(scored)]


QUERY = SparseVector([3, 7, 11, 20], [0.5, 1.0, 0.25, 0.8])


@pytest.mark.parametrize("namespace", ["", "terms"])
def test_it_serves_a_sparse_index(live_index, namespace):
    live = live_index(dimension=None, index_type="SPARSE")
    sdk = live.sdk()
    records = sparse_records(60)
    assert sdk.upsert(records, namespace=namespace) == "Success"
    results = sdk.query(sparse_vector=QUERY, top_k=100, include_vectors=True, namespace=namespace)
    assert [r.id for r in results] == exact_sparse_ranking(records, QUERY)
    top = next(r for r in records if r.id == results[0].id)
    shared = dict(pairs_of(sparse_of(top)))
    assert results[0].score == pytest.approx(sum(shared.get(i, 0) * w for i, w in pairs_of(QUERY)), rel=1e-6)
    assert results[0].sparse_vector == top.sparse_vector and results[0].vector is None
    fetched = sdk.fetch(ids=["s0"], include_vectors=True, namespace=namespace)[0]
    assert fetched.sparse_vector == records[0].sparse_vector
    page = sdk.range(cursor="", limit=5, include_vectors=True, namespace=namespace)
    assert [v.id for v in page.vectors] == ["s0", "s1", "s2", "s3", "s4"]
    assert sdk.update(id="s0", sparse_vector=SparseVector([3], [9.0]), namespace=namespace)
    assert sdk.query(sparse_vector=QUERY, top_k=1, namespace=namespace)[0].id == "s0"
    info = sdk.info()
    assert info.vector_count == 60 and info.sparse_index.embedding_model == "" and info.dense_index is None
    idf = sdk.query(sparse_vector=QUERY, top_k=3, weighting_strategy=WeightingStrategy.IDF, namespace=namespace)
    assert len(idf) == 3 and idf[0].score > 0


def test_it_refuses_dense_vectors_on_a_sparse_index_and_the_reverse(live_index, api):
    sparse = live_index("sp", dimension=None, index_type="SPARSE")
    dense = live_index("de", dimension=2)
    response = api("upsert", [{"id": "a", "vector": [1, 0]}], token=sparse.token)
    assert response.status_code == 422 and "takes no dense vector" in response.json()["error"]
    response = api(
        "upsert", [{"id": "a", "vector": [1, 0], "sparseVector": {"indices": [1], "values": [1]}}], token=dense.token
    )
    assert response.status_code == 422 and "takes no sparse vector" in response.json()["error"]
    response = api("query", {"sparseVector": {"indices": [1], "values": [1]}}, token=dense.token)
    assert response.status_code == 422
    response = api("upsert", [{"id": "a", "sparseVector": {"indices": [-1], "values": [1]}}], token=sparse.token)
    assert response.status_code == 400 and "sparsevec" in response.json()["error"]


def test_it_serves_a_hybrid_index_with_both_fusions(live_index):
    live = live_index(dimension=3, index_type="HYBRID")
    sdk = live.sdk()
    records = hybrid_records(80)
    sdk.upsert(records)
    dense_query = [0.2, -0.4, 0.9]
    both = sdk.query(vector=dense_query, sparse_vector=QUERY, top_k=10, include_vectors=True)
    assert len(both) == 10
    assert both[0].vector is not None and both[0].sparse_vector is not None
    assert all(a.score >= b.score for a, b in pairwise(both))
    assert max(r.score for r in both) <= 2 / 60 + 1e-6  # RRF sums at most two 1/60 terms
    dbsf = sdk.query(vector=dense_query, sparse_vector=QUERY, top_k=10, fusion_algorithm=FusionAlgorithm.DBSF)
    assert len(dbsf) == 10 and all(a.score >= b.score for a, b in pairwise(dbsf))
    dense_only = sdk.query(vector=dense_query, top_k=5)
    assert all(0 <= r.score <= 1 for r in dense_only)
    sparse_only = sdk.query(sparse_vector=QUERY, top_k=5)
    assert [r.id for r in sparse_only] == exact_sparse_ranking(records, QUERY)[:5]
    info = sdk.info()
    assert info.dense_index.dimension == 3 and info.sparse_index is not None


def test_it_requires_both_parts_on_hybrid_upserts(live_index, api):
    live = live_index(dimension=2, index_type="HYBRID")
    response = api("upsert", [{"id": "a", "vector": [1, 0]}], token=live.token)
    assert response.status_code == 422 and "needs a sparse vector" in response.json()["error"]


@pytest.mark.parametrize("kind", ["SPARSE", "HYBRID"])
def test_it_keeps_the_resumable_contract(live_index, kind):
    live = live_index(dimension=3 if kind == "HYBRID" else None, index_type=kind)
    sdk = live.sdk()
    records = hybrid_records(120) if kind == "HYBRID" else sparse_records(120)
    sdk.upsert(records)
    query: dict[str, Any] = {"sparse_vector": QUERY}
    if kind == "HYBRID":
        query["vector"] = [0.2, -0.4, 0.9]
    first, handle = sdk.resumable_query(top_k=7, include_metadata=True, **query)
    batches = [first] + [handle.fetch_next(k) for k in (1, 9, 30, 200)]
    ids = [r.id for batch in batches for r in batch]
    assert len(ids) == len(set(ids))
    assert handle.fetch_next(5) == []
    if kind == "SPARSE":
        assert ids == exact_sparse_ranking(records, QUERY)
        assert [r.id for r in sdk.query(top_k=len(ids), **query)] == ids
    else:
        # Every vector matches the dense side, so a hybrid drain returns them all once.
        assert sorted(ids) == sorted(r.id for r in records)
    handle.stop()
    assert ResumableQuery.objects.count() == 0


def test_it_fuses_resumable_hybrid_batches_as_the_service_does(live_index):
    """The JS SDK's own hybrid resumable test, run against the hosted service
    (docs/api.md#resumable-queries): dense id2, id1, id0 and sparse only id0; k=2 gives id2
    (0.617851, float32 DBSF over two candidates) and id0 (0.5), then id1 alone (0.5)."""
    live = live_index(dimension=2, index_type="HYBRID")
    sdk = live.sdk()
    sdk.upsert(
        [
            Vector(id="id0", vector=[0.1, 0.2], sparse_vector=SparseVector([0, 1], [0.1, 0.2])),
            Vector(id="id1", vector=[0.2, 0.3], sparse_vector=SparseVector([1, 2], [0.2, 0.3])),
            Vector(id="id2", vector=[0.3, 0.4], sparse_vector=SparseVector([2, 3], [0.3, 0.4])),
        ]
    )
    first, handle = sdk.resumable_query(
        vector=[0.1, 0.1],
        sparse_vector=SparseVector([0], [0.1]),
        top_k=2,
        weighting_strategy=WeightingStrategy.IDF,
        fusion_algorithm=FusionAlgorithm.DBSF,
    )
    assert [(r.id, r.score) for r in first] == [("id2", 0.617851), ("id0", 0.5)]
    assert [(r.id, r.score) for r in handle.fetch_next(1)] == [("id1", 0.5)]
    handle.stop()


def test_it_works_async_on_sparse_and_hybrid(live_index):
    sparse = live_index("asp", dimension=None, index_type="SPARSE")
    hybrid = live_index("ahy", dimension=3, index_type="HYBRID")

    async def run() -> tuple[list[str], list[str]]:
        s = sparse.async_sdk()
        h = hybrid.async_sdk()
        await s.upsert(sparse_records(30))
        await h.upsert(hybrid_records(30))
        first, handle = await s.resumable_query(sparse_vector=QUERY, top_k=3)
        async with handle:
            more = await handle.fetch_next(3)
        hybrid_hits = await h.query(vector=[0.1, 0.2, 0.3], sparse_vector=QUERY, top_k=4)
        return [r.id for r in first + more], [r.id for r in hybrid_hits]

    sparse_ids, hybrid_ids = asyncio.run(run())
    assert sparse_ids == exact_sparse_ranking(sparse_records(30), QUERY)[:6]
    assert len(hybrid_ids) == 4


@pytest.mark.parametrize("namespace", ["", "mixed"])
def test_it_fetches_ranges_and_updates_hybrid_records_with_both_parts(live_index, namespace):
    sdk = live_index(dimension=3, index_type="HYBRID").sdk()
    records = hybrid_records(12)
    sdk.upsert(records, namespace=namespace)
    fetched = sdk.fetch(ids=["s0", "missing"], include_vectors=True, include_metadata=True, namespace=namespace)
    assert fetched[1] is None
    assert fetched[0].sparse_vector == records[0].sparse_vector
    assert fetched[0].vector == pytest.approx(records[0].vector, rel=1e-6)
    page = sdk.range(cursor="", limit=10, include_vectors=True, namespace=namespace)
    assert len(page.vectors) == 10 and page.next_cursor
    assert all(v.vector is not None and v.sparse_vector is not None for v in page.vectors)
    rest = sdk.range(cursor=page.next_cursor, limit=10, namespace=namespace)
    assert [v.id for v in rest.vectors] == ["s10", "s11"] and rest.next_cursor == ""
    assert sdk.update(id="s1", vector=[0.0, 0.0, 1.0], sparse_vector=SparseVector([99], [2.0]), namespace=namespace)
    updated = sdk.fetch(ids=["s1"], include_vectors=True, namespace=namespace)[0]
    assert updated.vector == [0.0, 0.0, 1.0] and updated.sparse_vector == SparseVector([99], [2.0])
    assert sdk.query(sparse_vector=SparseVector([99], [1.0]), top_k=1, namespace=namespace)[0].id == "s1"
    assert sdk.delete(ids=["s1"], namespace=namespace).deleted == 1
    assert sdk.query(sparse_vector=SparseVector([99], [1.0]), top_k=1, namespace=namespace) == []


def test_it_embeds_text_with_bm25_async(live_index):
    live = live_index(dimension=None, index_type="SPARSE", sparse_embedding_model="BM25")

    async def run() -> list[str]:
        from upstash_vector.types import Data

        index = live.async_sdk()
        await index.upsert([Data(id="a", data="Sparse vectors for keyword search"), Data(id="b", data="Dense vectors")])
        first, handle = await index.resumable_query(data="keyword", top_k=1)
        async with handle:
            more = await handle.fetch_next(5)
        return [h.id for h in first + more]

    assert asyncio.run(run()) == ["a"]
