"""Issue 11 through the official async SDK (`upstash_vector.AsyncIndex`) against the live
server (docs/api.md#conformance). Each test runs its scenario with asyncio.run."""

from __future__ import annotations

import asyncio

import pytest
from upstash_vector import Vector
from upstash_vector.errors import UpstashError
from upstash_vector.types import FusionAlgorithm, SparseVector, WeightingStrategy

from search.models import Namespace, ResumableQuery


def run(live, scenario):
    async def main():
        idx = live.async_sdk()
        try:
            return await scenario(idx)
        finally:
            await idx._client.aclose()  # AsyncIndex has no public close

    return asyncio.run(main())


def test_it_merges_repeated_sparse_indices(live_index):
    async def scenario(idx):
        await idx.upsert([Vector(id="t", sparse_vector=SparseVector([2, 2, 1], [0.25, 0.5, 1]))])
        [fetched] = await idx.fetch("t", include_vectors=True)
        hits = await idx.query(sparse_vector=SparseVector([2, 2], [1, 1]))
        first, handle = await idx.resumable_query(sparse_vector=SparseVector([1, 1], [1, 2]), top_k=1)
        async with handle:
            assert await handle.fetch_next(1) == []
        await idx.update("t", sparse_vector=SparseVector([3, 3], [1, 1]))
        [updated] = await idx.fetch("t", include_vectors=True)
        return (
            fetched.sparse_vector,
            [(r.id, r.score) for r in hits],
            [(r.id, r.score) for r in first],
            updated.sparse_vector,
        )

    fetched, hits, first, updated = run(live_index(dimension=None, index_type="SPARSE"), scenario)
    assert fetched == SparseVector([1, 2], [1, 0.75])
    assert hits == [("t", 1.5)]
    assert first == [("t", 3)]
    assert updated == SparseVector([3], [2])


def test_it_fuses_the_sdk_example_in_float32(live_index):
    async def scenario(idx):
        await idx.upsert(
            [
                Vector(id="id0", vector=[0.1, 0.2], sparse_vector=SparseVector([0, 1], [0.1, 0.2])),
                Vector(id="id1", vector=[0.2, 0.3], sparse_vector=SparseVector([1, 2], [0.2, 0.3])),
                Vector(id="id2", vector=[0.3, 0.4], sparse_vector=SparseVector([2, 3], [0.3, 0.4])),
            ]
        )
        first, handle = await idx.resumable_query(
            vector=[0.1, 0.1],
            sparse_vector=SparseVector([0], [0.1]),
            top_k=2,
            weighting_strategy=WeightingStrategy.IDF,
            fusion_algorithm=FusionAlgorithm.DBSF,
        )
        async with handle:
            more = await handle.fetch_next(1)
        return [(r.id, r.score) for r in first + more]

    assert run(live_index(dimension=2, index_type="HYBRID"), scenario) == [
        ("id2", 0.617851),
        ("id0", 0.5),
        ("id1", 0.5),
    ]


def test_it_pages_by_record_number_and_refuses_unicode_digits(live_index):
    async def scenario(idx):
        await idx.upsert([(f"id-{i}", [i + 1, 1]) for i in range(12)], namespace="ns")
        first = await idx.range(cursor="", limit=5, namespace="ns")
        second = await idx.range(cursor=first.next_cursor, limit=5, namespace="ns")
        last = await idx.range(cursor=second.next_cursor, limit=5, namespace="ns")
        refused = []
        for cursor in ["²", "①", "１２", "١٢"]:  # noqa: RUF001 - look-alike digits are the point
            with pytest.raises(UpstashError) as error:
                await idx.range(cursor=cursor, limit=5, namespace="ns")
            refused.append(str(error.value))
        return [first.next_cursor, second.next_cursor, last.next_cursor], [v.id for v in last.vectors], refused

    cursors, last, refused = run(live_index(), scenario)
    assert cursors == ["5", "10", ""]
    assert last == ["id-10", "id-11"]
    assert set(refused) == {"cursor: must be a cursor returned by an earlier range call"}


def test_it_gives_a_usable_handle_on_a_missing_namespace(live_index):
    async def scenario(idx):
        first, handle = await idx.resumable_query(vector=[1, 2], top_k=3, namespace="ghost")
        async with handle:
            more = await handle.fetch_next(4)
        await handle.stop()
        return first, more

    assert run(live_index(), scenario) == ([], [])
    assert not Namespace.objects.filter(name="ghost").exists()
    assert ResumableQuery.objects.count() == 0


def test_it_renames_with_live_handles_following_and_draws_at_random(live_index):
    async def scenario(idx):
        await idx.upsert([(f"v{i}", [1, i + 1]) for i in range(4)], namespace="old")
        first, handle = await idx.resumable_query(vector=[1, 1], top_k=1, namespace="old")
        renamed = await idx._execute_request_async({"namespace": "old", "newNamespace": "new"}, "/rename-namespace")
        more = await handle.fetch_next(10)
        await handle.stop()
        drawn = await idx._execute_request_async("", "/random/new")
        missing = await idx._execute_request_async("", "/random/old")
        return renamed, sorted(r.id for r in first + more), drawn["id"], missing, await idx.list_namespaces()

    renamed, ids, drawn, missing, namespaces = run(live_index(), scenario)
    assert renamed == {"renamed": True}
    assert ids == ["v0", "v1", "v2", "v3"]
    assert drawn in ids and missing is None
    assert namespaces == ["", "new"]


def test_it_reads_the_index_type(live_index):
    async def scenario(idx):
        info = await idx.info()
        return await idx._execute_request_async("", "/info"), info.sparse_index

    result, sparse = run(live_index(dimension=2, index_type="HYBRID"), scenario)
    assert result["indexType"] == "HYBRID"
    assert result["denseIndex"]["embeddingModel"] == "" and sparse.embedding_model == ""
