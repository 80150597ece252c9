"""The official sync SDK (`upstash_vector.Index`) against the live server, endpoint by endpoint."""

from __future__ import annotations

import pytest
from upstash_vector import Vector
from upstash_vector.errors import ClientError, UpstashError
from upstash_vector.types import MetadataUpdateMode

from search.models import Vector as VectorRow

# Every data-plane endpoint behaves the same in the default namespace and a named one.
NAMESPACES = pytest.mark.parametrize("ns", ["", "books"], ids=["default", "named"])


@NAMESPACES
def test_it_upserts_tuples_dicts_and_vector_objects(live_index, ns):
    idx = live_index().sdk()

    assert idx.upsert([("one", [0.1, 0.2])], namespace=ns) == "Success"
    assert (
        idx.upsert(
            [
                ("t", [0.3, 0.4], {"kind": "tuple"}, "tuple data"),
                {"id": "d", "vector": [0.5, 0.6], "metadata": {"kind": "dict"}, "data": "dict data"},
                Vector(id="v", vector=[0.7, 0.8], metadata={"kind": "object"}, data="object data"),
                Vector(id=7, vector=[1, 2]),
            ],
            namespace=ns,
        )
        == "Success"
    )

    fetched = idx.fetch(
        ["one", "t", "d", "v", "7"], include_vectors=True, include_metadata=True, include_data=True, namespace=ns
    )
    assert [(r.id, r.vector, r.metadata, r.data) for r in fetched] == [
        ("one", [0.1, 0.2], None, None),
        ("t", [0.3, 0.4], {"kind": "tuple"}, "tuple data"),
        ("d", [0.5, 0.6], {"kind": "dict"}, "dict data"),
        ("v", [0.7, 0.8], {"kind": "object"}, "object data"),
        ("7", [1, 2], None, None),
    ]
    assert idx.info().namespaces[ns].vector_count == 5


@NAMESPACES
def test_it_replaces_a_record_fully_when_its_id_is_upserted_again(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2], {"old": True}, "old data")], namespace=ns)

    idx.upsert([("a", [0.3, 0.4])], namespace=ns)

    [record] = idx.fetch("a", include_vectors=True, include_metadata=True, include_data=True, namespace=ns)
    assert (record.vector, record.metadata, record.data) == ([0.3, 0.4], None, None)
    assert idx.info().namespaces[ns].vector_count == 1


@NAMESPACES
def test_it_stores_numeric_ids_as_strings(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([(1, [0.1, 0.2]), {"id": 2, "vector": [0.2, 0.1]}], namespace=ns)

    assert [r.id for r in idx.fetch(["1", "2"], namespace=ns)] == ["1", "2"]
    assert {r.id for r in idx.query(vector=[0.1, 0.2], namespace=ns)} == {"1", "2"}
    assert idx.update("1", metadata={"n": 1}, namespace=ns) is True
    assert idx.range(limit=5, namespace=ns).vectors[0].id == "1"


@NAMESPACES
def test_it_returns_float32_values_in_their_shortest_form(live_index, ns):
    idx = live_index(dimension=4).sdk()
    idx.upsert([("a", [0.1, 0.2, 1 / 3, -7.25])], namespace=ns)

    [record] = idx.fetch("a", include_vectors=True, namespace=ns)
    assert record.vector == [0.1, 0.2, 0.33333334, -7.25]
    [hit] = idx.query(vector=[0.1, 0.2, 1 / 3, -7.25], include_vectors=True, namespace=ns)
    assert hit.vector == [0.1, 0.2, 0.33333334, -7.25]
    assert idx.range(limit=1, include_vectors=True, namespace=ns).vectors[0].vector == [0.1, 0.2, 0.33333334, -7.25]


@NAMESPACES
def test_it_queries_with_include_flags_and_top_k(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("a", [1, 0], {"k": "a"}, "alpha"), ("b", [0.8, 0.6], {"k": "b"}), ("c", [0, 1])], namespace=ns)

    bare = idx.query(vector=[1, 0], top_k=2, namespace=ns)
    assert [(r.id, r.vector, r.metadata, r.data) for r in bare] == [("a", None, None, None), ("b", None, None, None)]

    full = idx.query(
        vector=[1, 0], top_k=3, include_vectors=True, include_metadata=True, include_data=True, namespace=ns
    )
    assert [(r.id, r.vector, r.metadata, r.data) for r in full] == [
        ("a", [1, 0], {"k": "a"}, "alpha"),
        ("b", [0.8, 0.6], {"k": "b"}, None),
        ("c", [0, 1], None, None),
    ]
    assert [r.score for r in full] == [1, 0.9, 0.5]

    assert len(idx.query(vector=[1, 0], namespace=ns)) == 3  # default topK 10
    assert [r.id for r in idx.query(vector=[1, 0], top_k=1, namespace=ns)] == ["a"]


@pytest.mark.parametrize(
    ("similarity", "expected"),
    [
        # (1 + cos) / 2: cos = 1, 1/sqrt(2), 0.6, 0, -1
        ("COSINE", [("same", 1), ("diag", 0.8535534), ("near", 0.8), ("ortho", 0.5), ("opposite", 0)]),
        # 1 / (1 + d^2): d^2 = 0, 0.16 + 0.64, 0.0858 + 0.5, 2, 4
        (
            "EUCLIDEAN",
            [("same", 1), ("diag", 0.63060194), ("near", 0.5555556), ("ortho", 0.33333334), ("opposite", 0.2)],
        ),
        # (1 + a.b) / 2
        ("DOT_PRODUCT", [("same", 1), ("diag", 0.8535534), ("near", 0.8), ("ortho", 0.5), ("opposite", 0)]),
    ],
)
def test_it_normalises_scores_per_similarity(live_index, similarity, expected):
    idx = live_index(similarity=similarity).sdk()
    half = 0.5**0.5
    idx.upsert(
        [
            ("ortho", [0, 1]),
            ("same", [1, 0]),
            ("near", [0.6, 0.8]),
            ("diag", [half, half]),
            ("opposite", [-1, 0]),
        ]
    )

    results = idx.query(vector=[1, 0], top_k=5)

    assert [(r.id, r.score) for r in results] == expected


@pytest.mark.parametrize("similarity", ["COSINE", "EUCLIDEAN", "DOT_PRODUCT"])
def test_it_scores_an_identical_vector_exactly_one_and_breaks_ties_by_insertion(live_index, similarity):
    idx = live_index(dimension=3, similarity=similarity).sdk()
    unit = [0.48, 0.6, 0.64]  # |unit| = 1, so DOT_PRODUCT scores it 1 too
    idx.upsert([("zeta", unit), ("alpha", [0, 0, 1]), ("mid", unit)])
    idx.upsert([("beta", unit)])

    results = idx.query(vector=unit, top_k=4)

    assert [r.id for r in results[:3]] == ["zeta", "mid", "beta"]
    assert [r.score for r in results[:3]] == [1, 1, 1]


def test_it_puts_the_exact_copy_before_a_vector_that_also_rounds_to_one(live_index):
    idx = live_index().sdk()
    idx.upsert([("scaled", [1, 1]), ("copy", [0.1, 0.1])])

    results = idx.query(vector=[0.1, 0.1], top_k=2)

    assert [(r.id, r.score) for r in results] == [("copy", 1), ("scaled", 1)]


@NAMESPACES
def test_it_answers_a_batch_query_with_one_list_per_query(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("x", [1, 0], {"axis": "x"}), ("y", [0, 1])], namespace=ns)

    results = idx.query_many(
        queries=[
            {"vector": [1, 0], "top_k": 1, "include_metadata": True},
            {"vector": [0, 1], "top_k": 2, "include_vectors": True},
        ],
        namespace=ns,
    )

    assert [[(r.id, r.score, r.metadata, r.vector) for r in batch] for batch in results] == [
        [("x", 1, {"axis": "x"}, None)],
        [("y", 1, None, [0, 1]), ("x", 0.5, None, [1, 0])],
    ]
    [single] = idx.query_many(queries=[{"vector": [0, 1], "top_k": 1}], namespace=ns)
    assert [r.id for r in single] == ["y"]


@NAMESPACES
def test_it_fetches_by_id_in_request_order_with_none_for_missing_ids(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2], {"m": 1}, "A"), ("b", [0.3, 0.4])], namespace=ns)

    fetched = idx.fetch(["b", "missing", "a"], include_metadata=True, include_data=True, namespace=ns)

    assert fetched[1] is None
    assert [(r.id, r.vector, r.metadata, r.data) for r in (fetched[0], fetched[2])] == [
        ("b", None, None, None),
        ("a", None, {"m": 1}, "A"),
    ]
    assert idx.fetch("a", namespace=ns)[0].id == "a"
    assert idx.fetch(["nope"], namespace=ns) == [None]


@NAMESPACES
def test_it_fetches_by_prefix(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("doc-2", [0.1, 0.2]), ("note-1", [0.3, 0.4]), ("doc-1", [0.5, 0.6])], namespace=ns)

    fetched = idx.fetch(prefix="doc-", include_vectors=True, namespace=ns)

    assert sorted((r.id, tuple(r.vector)) for r in fetched) == [("doc-1", (0.5, 0.6)), ("doc-2", (0.1, 0.2))]
    assert idx.fetch(prefix="zzz", namespace=ns) == []


@NAMESPACES
def test_it_deletes_by_ids_and_prefix_counting_only_what_existed(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2]), ("b", [0.2, 0.3]), ("p-1", [0.3, 0.4]), ("p-2", [0.4, 0.5])], namespace=ns)

    assert idx.delete(["a", "ghost"], namespace=ns).deleted == 1
    assert idx.delete(["a"], namespace=ns).deleted == 0
    assert idx.delete("b", namespace=ns).deleted == 1
    assert idx.delete(prefix="p-", namespace=ns).deleted == 2
    assert idx.delete(prefix="p-", namespace=ns).deleted == 0

    assert idx.info().namespaces[ns].vector_count == 0
    assert idx.range(limit=10, namespace=ns).vectors == []


@NAMESPACES
def test_it_ranges_to_the_end_in_insertion_order(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([(f"id-{n}", [1, n]) for n in range(20)], namespace=ns)

    first = idx.range(cursor="", limit=4, namespace=ns)
    second = idx.range(cursor=first.next_cursor, limit=8, namespace=ns)
    third = idx.range(cursor=second.next_cursor, limit=8, include_vectors=True, namespace=ns)

    assert [v.id for v in first.vectors] == ["id-0", "id-1", "id-2", "id-3"]
    assert [v.id for v in second.vectors] == [f"id-{n}" for n in range(4, 12)]
    assert [v.id for v in third.vectors] == [f"id-{n}" for n in range(12, 20)]
    assert first.next_cursor and second.next_cursor
    assert third.next_cursor == ""
    assert third.vectors[-1].vector == [1, 19]


@NAMESPACES
def test_it_ranges_over_a_prefix_with_include_flags(live_index, ns):
    idx = live_index().sdk()
    idx.upsert(
        [("b-1", [0.1, 0.2], {"n": 1}, "one"), ("a-1", [0.2, 0.3]), ("b-2", [0.3, 0.4], {"n": 2}), ("b-3", [0.4, 0.5])],
        namespace=ns,
    )

    page = idx.range(limit=2, prefix="b-", include_metadata=True, include_data=True, namespace=ns)
    rest = idx.range(cursor=page.next_cursor, limit=2, prefix="b-", namespace=ns)

    assert [(v.id, v.metadata, v.data) for v in page.vectors] == [("b-1", {"n": 1}, "one"), ("b-2", {"n": 2}, None)]
    assert [v.id for v in rest.vectors] == ["b-3"]
    assert rest.next_cursor == ""
    empty = idx.range(limit=3, prefix="zzz", namespace=ns)
    assert (empty.next_cursor, empty.vectors) == ("", [])


def test_it_refuses_a_non_positive_range_limit_before_sending(live_index):
    idx = live_index().sdk()
    with pytest.raises(ClientError):
        idx.range(limit=0)


@NAMESPACES
def test_it_updates_vector_data_and_metadata(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2], {"keep": 1}, "old")], namespace=ns)

    assert idx.update("a", vector=[0.3, 0.4], namespace=ns) is True
    assert idx.update("a", data="new", namespace=ns) is True
    [record] = idx.fetch("a", include_vectors=True, include_metadata=True, include_data=True, namespace=ns)
    # Updating only the vector or data keeps the metadata, whatever the (default) mode.
    assert (record.vector, record.metadata, record.data) == ([0.3, 0.4], {"keep": 1}, "new")

    assert idx.update("a", metadata={"replaced": True}, namespace=ns) is True
    [record] = idx.fetch("a", include_metadata=True, include_data=True, namespace=ns)
    assert (record.metadata, record.data) == ({"replaced": True}, "new")
    assert idx.query(vector=[0.3, 0.4], top_k=1, namespace=ns)[0].score == 1


@NAMESPACES
def test_it_patches_metadata_as_a_json_merge_patch(live_index, ns):
    idx = live_index().sdk()
    original = {"title": "Dune", "tags": ["sf"], "author": {"name": "Herbert", "born": 1920}, "drop": 1}
    idx.upsert([("a", [0.1, 0.2], original)], namespace=ns)

    updated = idx.update(
        "a",
        metadata={"drop": None, "tags": ["sf", "classic"], "author": {"born": None, "died": 1986}, "new": {"x": 1}},
        metadata_update_mode=MetadataUpdateMode.PATCH,
        namespace=ns,
    )

    assert updated is True
    [record] = idx.fetch("a", include_metadata=True, namespace=ns)
    assert record.metadata == {
        "title": "Dune",
        "tags": ["sf", "classic"],
        "author": {"name": "Herbert", "died": 1986},
        "new": {"x": 1},
    }


@NAMESPACES
def test_it_reports_an_update_of_a_missing_id_as_false(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2])], namespace=ns)

    assert idx.update("ghost", metadata={"x": 1}, namespace=ns) is False
    assert idx.fetch("ghost", namespace=ns) == [None]


@NAMESPACES
def test_it_resets_one_namespace_and_keeps_it(live_index, ns):
    idx = live_index().sdk()
    other = "other" if ns == "" else ""
    idx.upsert([("a", [0.1, 0.2]), ("b", [0.3, 0.4])], namespace=ns)
    idx.upsert([("c", [0.1, 0.2])], namespace=other)

    assert idx.reset(namespace=ns) == "Success"

    info = idx.info()
    assert info.namespaces[ns].vector_count == 0
    assert info.namespaces[other].vector_count == 1
    assert info.vector_count == 1
    assert ns in idx.list_namespaces()
    assert idx.fetch(["a", "b"], namespace=ns) == [None, None]
    assert idx.query(vector=[0.1, 0.2], namespace=ns) == []


def test_it_resets_all_namespaces_and_keeps_them(live_index):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2])])
    idx.upsert([("b", [0.1, 0.2])], namespace="n1")
    idx.upsert([("c", [0.1, 0.2])], namespace="n2")

    assert idx.reset(all=True) == "Success"

    info = idx.info()
    assert info.vector_count == 0
    assert {name: ns.vector_count for name, ns in info.namespaces.items()} == {"": 0, "n1": 0, "n2": 0}
    assert idx.list_namespaces() == ["", "n1", "n2"]
    assert VectorRow.objects.count() == 0


def test_it_reports_every_info_field(live_index):
    live = live_index(dimension=3, similarity="EUCLIDEAN")
    idx = live.sdk()
    empty = idx.info()
    assert (empty.vector_count, empty.pending_vector_count, empty.dimension) == (0, 0, 3)
    assert empty.similarity_function == "EUCLIDEAN"
    assert list(empty.namespaces) == [""]

    idx.upsert([("a", [1, 2, 3]), ("b", [4, 5, 6])])
    idx.upsert([("c", [7, 8, 9])], namespace="books")
    info = idx.info()

    assert info.vector_count == 3
    assert info.pending_vector_count == 0
    assert info.index_size > empty.index_size
    assert info.dimension == 3
    assert info.similarity_function == "EUCLIDEAN"
    assert {name: (ns.vector_count, ns.pending_vector_count) for name, ns in info.namespaces.items()} == {
        "": (2, 0),
        "books": (1, 0),
    }
    assert (info.dense_index.dimension, info.dense_index.similarity_function) == (3, "EUCLIDEAN")
    assert info.dense_index.embedding_model == ""
    assert info.sparse_index is None


def test_it_lists_and_deletes_namespaces(live_index):
    idx = live_index().sdk()
    assert idx.list_namespaces() == [""]
    idx.upsert([("a", [0.1, 0.2])], namespace="zeta")
    idx.upsert([("a", [0.1, 0.2])], namespace="alpha")
    assert idx.list_namespaces() == ["", "alpha", "zeta"]

    assert idx.delete_namespace("zeta") is None

    assert idx.list_namespaces() == ["", "alpha"]
    assert "zeta" not in idx.info().namespaces
    assert idx.fetch("a", namespace="zeta") == [None]
    assert idx.fetch("a", namespace="alpha")[0].id == "a"


def test_it_refuses_to_delete_a_missing_namespace(live_index):
    idx = live_index(name="shelf").sdk()

    with pytest.raises(UpstashError, match="Namespace ghost for the index shelf does not exist"):
        idx.delete_namespace("ghost")


def test_it_refuses_to_delete_the_default_namespace(live_index):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2])])

    # The sync SDK sends `/delete-namespace` with no suffix for "".
    with pytest.raises(UpstashError, match="default namespace"):
        idx.delete_namespace("")

    assert idx.list_namespaces() == [""]
    assert idx.info().vector_count == 1


@NAMESPACES
def test_it_resumes_a_query_page_by_page(live_index, ns):
    idx = live_index().sdk()
    idx.upsert([(f"v{n}", [1, n / 10]) for n in range(5)], namespace=ns)

    scores, handle = idx.resumable_query(vector=[1, 0], top_k=2, include_metadata=True, namespace=ns)
    assert [r.id for r in scores] == ["v0", "v1"]
    assert [r.id for r in handle.fetch_next(2)] == ["v2", "v3"]
    assert [r.id for r in handle.fetch_next(5)] == ["v4"]
    assert handle.fetch_next(1) == []
    handle.stop()
    with pytest.raises(UpstashError):
        handle.fetch_next(1)


def test_it_never_creates_a_namespace_on_reads(live_index):
    idx = live_index().sdk()
    idx.upsert([("a", [0.1, 0.2])])
    before = idx.list_namespaces()

    assert idx.query(vector=[0.1, 0.2], namespace="ghost") == []
    assert idx.query_many(queries=[{"vector": [0.1, 0.2]}, {"vector": [0.2, 0.1]}], namespace="ghost") == [[], []]
    assert idx.fetch(["a"], namespace="ghost") == [None]
    assert idx.fetch(prefix="a", namespace="ghost") == []
    range_result = idx.range(limit=5, namespace="ghost")
    assert (range_result.next_cursor, range_result.vectors) == ("", [])
    assert idx.delete(["a"], namespace="ghost").deleted == 0
    assert idx.delete(prefix="a", namespace="ghost").deleted == 0
    assert idx.update("a", metadata={"x": 1}, namespace="ghost") is False
    assert idx.reset(namespace="ghost") == "Success"
    scores, handle = idx.resumable_query(vector=[0.1, 0.2], namespace="ghost")
    assert scores == []
    # The SDK's handle does not check for the empty uuid, so next and stop must succeed.
    assert handle.fetch_next(5) == []
    with handle:
        pass

    assert idx.list_namespaces() == before == [""]
    assert list(idx.info().namespaces) == [""]
