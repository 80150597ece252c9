"""The official async SDK (`upstash_vector.AsyncIndex`) against the live server, endpoint by endpoint.

pytest-asyncio is not installed: each test runs its scenario with asyncio.run."""

from __future__ import annotations

import asyncio

import pytest
from upstash_vector import Vector
from upstash_vector.errors import ClientError, UpstashError
from upstash_vector.types import MetadataUpdateMode

NAMESPACES = pytest.mark.parametrize("ns", ["", "books"], ids=["default", "named"])


def run(live, scenario, token=None):
    """Run `scenario(async_index)` on a fresh event loop with a client bound to it."""

    async def main():
        idx = live.async_sdk(token)
        try:
            return await scenario(idx)
        finally:
            await idx._client.aclose()  # AsyncIndex has no public close

    return asyncio.run(main())


@NAMESPACES
def test_it_upserts_tuples_dicts_and_vector_objects(live_index, ns):
    async def scenario(idx):
        assert await idx.upsert([("one", [0.1, 0.2])], namespace=ns) == "Success"
        await idx.upsert(
            [
                ("t", [0.3, 0.4], {"kind": "tuple"}, "tuple data"),
                {"id": "d", "vector": [0.5, 0.6], "metadata": {"kind": "dict"}, "data": "dict data"},
                Vector(id="v", vector=[0.7, 0.8], metadata={"kind": "object"}, data="object data"),
                Vector(id=7, vector=[1, 2]),
            ],
            namespace=ns,
        )
        fetched = await idx.fetch(
            ["one", "t", "d", "v", "7"], include_vectors=True, include_metadata=True, include_data=True, namespace=ns
        )
        return [(r.id, r.vector, r.metadata, r.data) for r in fetched], (await idx.info()).namespaces[ns].vector_count

    records, count = run(live_index(), scenario)

    assert records == [
        ("one", [0.1, 0.2], None, None),
        ("t", [0.3, 0.4], {"kind": "tuple"}, "tuple data"),
        ("d", [0.5, 0.6], {"kind": "dict"}, "dict data"),
        ("v", [0.7, 0.8], {"kind": "object"}, "object data"),
        ("7", [1, 2], None, None),
    ]
    assert count == 5


@NAMESPACES
def test_it_queries_one_and_many_with_include_flags(live_index, ns):
    async def scenario(idx):
        await idx.upsert([("a", [1, 0], {"k": "a"}, "alpha"), ("b", [0.8, 0.6]), ("c", [0, 1])], namespace=ns)
        full = await idx.query(
            vector=[1, 0], top_k=3, include_vectors=True, include_metadata=True, include_data=True, namespace=ns
        )
        bare = await idx.query(vector=[1, 0], top_k=1, namespace=ns)
        many = await idx.query_many(
            queries=[{"vector": [0, 1], "top_k": 1}, {"vector": [1, 0], "top_k": 2, "include_data": True}],
            namespace=ns,
        )
        one = await idx.query_many(queries=[{"vector": [0.8, 0.6], "top_k": 1}], namespace=ns)
        return full, bare, many, one

    full, bare, many, one = run(live_index(), scenario)

    assert [(r.id, r.score, r.vector, r.metadata, r.data) for r in full] == [
        ("a", 1, [1, 0], {"k": "a"}, "alpha"),
        ("b", 0.9, [0.8, 0.6], None, None),
        ("c", 0.5, [0, 1], None, None),
    ]
    assert [(r.id, r.vector, r.metadata, r.data) for r in bare] == [("a", None, None, None)]
    assert [[(r.id, r.score, r.data) for r in batch] for batch in many] == [
        [("c", 1, None)],
        [("a", 1, "alpha"), ("b", 0.9, None)],
    ]
    assert [[r.id for r in batch] for batch in one] == [["b"]]


@pytest.mark.parametrize(
    ("similarity", "expected"),
    [
        ("COSINE", [("same", 1), ("near", 0.8), ("ortho", 0.5), ("opposite", 0)]),
        ("EUCLIDEAN", [("same", 1), ("ortho", 0.33333334), ("opposite", 0.2)]),
        ("DOT_PRODUCT", [("same", 1), ("near", 0.8), ("ortho", 0.5), ("opposite", 0)]),
    ],
)
def test_it_normalises_scores_per_similarity(live_index, similarity, expected):
    async def scenario(idx):
        vectors = {"ortho": [0, 1], "same": [1, 0], "near": [0.6, 0.8], "opposite": [-1, 0]}
        await idx.upsert([(key, vectors[key]) for key, _ in expected])
        return await idx.query(vector=[1, 0], top_k=5)

    results = run(live_index(similarity=similarity), scenario)

    assert [(r.id, r.score) for r in results] == expected


def test_it_scores_identical_vectors_one_and_breaks_ties_by_insertion(live_index):
    async def scenario(idx):
        await idx.upsert([("zeta", [0.3, 0.4]), ("other", [0.4, 0.3]), ("alpha", [0.3, 0.4])])
        return await idx.query(vector=[0.3, 0.4], top_k=3)

    results = run(live_index(), scenario)

    assert [(r.id, r.score) for r in results[:2]] == [("zeta", 1), ("alpha", 1)]


@NAMESPACES
def test_it_fetches_by_ids_and_prefix(live_index, ns):
    async def scenario(idx):
        await idx.upsert([("doc-1", [0.1, 0.2], {"m": 1}, "one"), ("doc-2", [0.3, 0.4]), (3, [0.5, 0.6])], namespace=ns)
        by_ids = await idx.fetch(["doc-2", "missing", "doc-1", "3"], include_vectors=True, namespace=ns)
        by_prefix = await idx.fetch(prefix="doc-", include_metadata=True, include_data=True, namespace=ns)
        return by_ids, by_prefix

    by_ids, by_prefix = run(live_index(), scenario)

    assert [(r.id, r.vector) if r else None for r in by_ids] == [
        ("doc-2", [0.3, 0.4]),
        None,
        ("doc-1", [0.1, 0.2]),
        ("3", [0.5, 0.6]),
    ]
    assert sorted((r.id, r.metadata, r.data) for r in by_prefix) == [("doc-1", {"m": 1}, "one"), ("doc-2", None, None)]


@NAMESPACES
def test_it_deletes_by_ids_and_prefix_and_repeats_as_zero(live_index, ns):
    async def scenario(idx):
        await idx.upsert([("a", [0.1, 0.2]), ("p-1", [0.3, 0.4]), ("p-2", [0.4, 0.5])], namespace=ns)
        counts = [
            (await idx.delete(["a", "ghost"], namespace=ns)).deleted,
            (await idx.delete("a", namespace=ns)).deleted,
            (await idx.delete(prefix="p-", namespace=ns)).deleted,
            (await idx.delete(prefix="p-", namespace=ns)).deleted,
        ]
        return counts, (await idx.info()).namespaces[ns].vector_count

    assert run(live_index(), scenario) == ([1, 0, 2, 0], 0)


@NAMESPACES
def test_it_ranges_to_the_end_in_insertion_order(live_index, ns):
    async def scenario(idx):
        await idx.upsert([(f"id-{n}", [1, n]) for n in range(20)], namespace=ns)
        await idx.upsert([("other", [1, 1])], namespace=ns)
        pages, cursor = [], ""
        for limit in (4, 8, 8):
            page = await idx.range(cursor=cursor, limit=limit, prefix="id-", include_vectors=True, namespace=ns)
            pages.append(page)
            cursor = page.next_cursor
        return pages

    first, second, third = run(live_index(), scenario)

    assert [v.id for v in first.vectors + second.vectors + third.vectors] == [f"id-{n}" for n in range(20)]
    assert [len(page.vectors) for page in (first, second, third)] == [4, 8, 8]
    assert first.next_cursor and second.next_cursor and third.next_cursor == ""
    assert third.vectors[0].vector == [1, 12]


def test_it_refuses_a_non_positive_range_limit_before_sending(live_index):
    async def scenario(idx):
        with pytest.raises(ClientError):
            await idx.range(limit=-1)

    run(live_index(), scenario)


@NAMESPACES
def test_it_updates_and_patches_metadata(live_index, ns):
    async def scenario(idx):
        await idx.upsert([("a", [0.1, 0.2], {"keep": 1, "nested": {"x": 1, "y": 2}}, "old")], namespace=ns)
        results = [
            await idx.update("a", vector=[0.3, 0.4], data="new", namespace=ns),
            await idx.update(
                "a",
                metadata={"nested": {"y": None, "z": 3}, "added": [1]},
                metadata_update_mode=MetadataUpdateMode.PATCH,
                namespace=ns,
            ),
            await idx.update("ghost", metadata={"x": 1}, namespace=ns),
        ]
        [patched] = await idx.fetch("a", include_vectors=True, include_metadata=True, include_data=True, namespace=ns)
        await idx.update("a", metadata={"only": True}, metadata_update_mode=MetadataUpdateMode.OVERWRITE, namespace=ns)
        [overwritten] = await idx.fetch("a", include_metadata=True, namespace=ns)
        return results, patched, overwritten

    results, patched, overwritten = run(live_index(), scenario)

    assert results == [True, True, False]
    assert (patched.vector, patched.data) == ([0.3, 0.4], "new")
    assert patched.metadata == {"keep": 1, "nested": {"x": 1, "z": 3}, "added": [1]}
    assert overwritten.metadata == {"only": True}


@NAMESPACES
def test_it_resets_a_namespace_and_keeps_it(live_index, ns):
    async def scenario(idx):
        other = "other" if ns == "" else ""
        await idx.upsert([("a", [0.1, 0.2])], namespace=ns)
        await idx.upsert([("b", [0.1, 0.2])], namespace=other)
        assert await idx.reset(namespace=ns) == "Success"
        return await idx.info(), other

    info, other = run(live_index(), scenario)

    assert (info.namespaces[ns].vector_count, info.namespaces[other].vector_count) == (0, 1)


def test_it_resets_all_namespaces_and_keeps_them(live_index):
    async def scenario(idx):
        await idx.upsert([("a", [0.1, 0.2])])
        await idx.upsert([("b", [0.1, 0.2])], namespace="n1")
        assert await idx.reset(all=True) == "Success"
        return await idx.info(), await idx.list_namespaces()

    info, names = run(live_index(), scenario)

    assert info.vector_count == 0
    assert {name: ns.vector_count for name, ns in info.namespaces.items()} == {"": 0, "n1": 0}
    assert names == ["", "n1"]


def test_it_reports_every_info_field(live_index):
    async def scenario(idx):
        await idx.upsert([("a", [1, 2, 3]), ("b", [4, 5, 6])])
        await idx.upsert([("c", [7, 8, 9])], namespace="books")
        return await idx.info()

    info = run(live_index(dimension=3, similarity="DOT_PRODUCT"), scenario)

    assert (info.vector_count, info.pending_vector_count, info.dimension) == (3, 0, 3)
    assert info.index_size > 0
    assert info.similarity_function == "DOT_PRODUCT"
    assert {name: (ns.vector_count, ns.pending_vector_count) for name, ns in info.namespaces.items()} == {
        "": (2, 0),
        "books": (1, 0),
    }
    assert (info.dense_index.dimension, info.dense_index.similarity_function, info.dense_index.embedding_model) == (
        3,
        "DOT_PRODUCT",
        "",
    )
    assert info.sparse_index is None


def test_it_lists_and_deletes_namespaces(live_index):
    async def scenario(idx):
        await idx.upsert([("a", [0.1, 0.2])], namespace="zeta")
        await idx.upsert([("a", [0.1, 0.2])], namespace="alpha")
        before = await idx.list_namespaces()
        await idx.delete_namespace("zeta")
        after = await idx.list_namespaces()
        with pytest.raises(UpstashError, match="Namespace zeta for the index live does not exist"):
            await idx.delete_namespace("zeta")
        # The async SDK refuses the default namespace itself, without a request.
        with pytest.raises(ClientError, match="Cannot delete the default namespace"):
            await idx.delete_namespace("")
        return before, after

    assert run(live_index(), scenario) == (["", "alpha", "zeta"], ["", "alpha"])


@NAMESPACES
def test_it_resumes_a_query_page_by_page(live_index, ns):
    async def scenario(idx):
        await idx.upsert([(f"v{n}", [1, n / 10]) for n in range(5)], namespace=ns)
        scores, handle = await idx.resumable_query(vector=[1, 0], top_k=2, namespace=ns)
        pages = [scores, await handle.fetch_next(2), await handle.fetch_next(5), await handle.fetch_next(1)]
        await handle.stop()
        with pytest.raises(UpstashError):
            await handle.fetch_next(1)
        return [[r.id for r in page] for page in pages]

    assert run(live_index(), scenario) == [["v0", "v1"], ["v2", "v3"], ["v4"], []]


def test_it_never_creates_a_namespace_on_reads(live_index):
    async def scenario(idx):
        await idx.upsert([("a", [0.1, 0.2])])
        outcomes = [
            await idx.query(vector=[0.1, 0.2], namespace="ghost"),
            await idx.query_many(queries=[{"vector": [0.1, 0.2]}, {"vector": [0.2, 0.1]}], namespace="ghost"),
            await idx.fetch(["a"], namespace="ghost"),
            await idx.fetch(prefix="a", namespace="ghost"),
            (await idx.range(limit=5, namespace="ghost")).vectors,
            (await idx.delete(["a"], namespace="ghost")).deleted,
            await idx.update("a", metadata={"x": 1}, namespace="ghost"),
            await idx.reset(namespace="ghost"),
        ]
        scores, handle = await idx.resumable_query(vector=[0.1, 0.2], namespace="ghost")
        async with handle:  # stops it: the empty uuid of a query that never started
            outcomes += [scores, await handle.fetch_next(3)]
        return outcomes, await idx.list_namespaces(), list((await idx.info()).namespaces)

    outcomes, names, info_names = run(live_index(), scenario)

    assert outcomes == [[], [[], []], [None], [], [], 0, False, "Success", [], []]
    assert names == info_names == [""]


def test_it_serves_concurrent_writes_into_a_new_namespace(live_index):
    async def scenario(idx):
        batches = [[(f"b{batch}-{n}", [1, batch + n]) for n in range(5)] for batch in range(8)]
        await asyncio.gather(*(idx.upsert(batch, namespace="burst") for batch in batches))
        return await idx.info(), await idx.range(limit=100, namespace="burst")

    info, page = run(live_index(), scenario)

    assert info.namespaces["burst"].vector_count == 40
    assert len({v.id for v in page.vectors}) == 40


def test_it_raises_upstash_error_with_the_server_message(live_index):
    live = live_index()

    async def wrong_dimension(idx):
        with pytest.raises(UpstashError, match="Invalid vector dimension: 3, expected: 2"):
            await idx.upsert([("a", [1, 2, 3])])

    async def read_only(idx):
        with pytest.raises(UpstashError, match="read-only"):
            await idx.upsert([("a", [1, 2])])
        return await idx.info()

    run(live, wrong_dimension)
    assert run(live, read_only, token=live.readonly_token).vector_count == 0


def test_it_refuses_a_wrong_token(live_index):
    async def scenario(idx):
        with pytest.raises(UpstashError, match="Unauthorized"):
            await idx.info()

    run(live_index(), scenario, token="vs_not-a-token")
