"""Issue 11 through the official sync SDK (`upstash_vector.Index`) against the live server:
each call answered as the hosted service answers it, with its figures where its docs or
SDK tests state them (docs/api.md#conformance)."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from upstash_vector import Vector
from upstash_vector.errors import UpstashError
from upstash_vector.types import FusionAlgorithm, SparseVector, WeightingStrategy

from search.models import Namespace, ResumableQuery
from search.models import Vector as VectorRow

NAMESPACES = pytest.mark.parametrize("ns", ["", "books"], ids=["default", "named"])
UNICODE_DIGITS = ["²", "①", "１２", "١٢", "৫", "𝟓"]  # noqa: RUF001 - look-alike digits are the point


def raw(idx, path, payload=""):
    """A command the SDK has no method for, sent through the SDK's own transport."""
    return idx._execute_request(payload=payload, path=path)


# --- sparse vectors with repeated indices ---------------------------------------------


def test_it_merges_repeated_sparse_indices_on_upsert_query_resumable_and_update(live_index):
    idx = live_index(dimension=None, index_type="SPARSE").sdk()
    idx.upsert(
        [
            Vector(id="t", sparse_vector=SparseVector([7, 3, 7, 3, 9], [0.5, 1, 0.25, 1, 2])),
            Vector(id="u", sparse_vector=SparseVector([3, 3], [0.5, -0.5])),  # sums to 0: no entry left
        ]
    )
    [t, u] = idx.fetch(["t", "u"], include_vectors=True)
    assert t.sparse_vector == SparseVector([3, 7, 9], [2, 0.75, 2])
    assert u.sparse_vector == SparseVector([], [])

    assert [(r.id, r.score) for r in idx.query(sparse_vector=SparseVector([7, 7], [1, 1]))] == [("t", 1.5)]
    first, handle = idx.resumable_query(sparse_vector=SparseVector([9, 3, 9], [1, 1, 1]), top_k=1)
    with handle:
        assert [(r.id, r.score) for r in first] == [("t", 6)]
    assert idx.update("u", sparse_vector=SparseVector([5, 5, 5], [1, 1, 1])) is True
    assert idx.fetch("u", include_vectors=True)[0].sparse_vector == SparseVector([5], [3])


def test_it_refuses_only_what_the_hosted_service_refuses_in_sparse_vectors(live_index):
    idx = live_index(dimension=None, index_type="SPARSE").sdk()
    # 1,001 entries that merge into 1,000 are accepted; 1,001 distinct are not.
    indices = [*range(1000), 0]
    assert idx.upsert([Vector(id="ok", sparse_vector=SparseVector(indices, [1.0] * 1001))]) == "Success"
    with pytest.raises(UpstashError, match=r"^\[0\]\.sparseVector: at most 1000 non-zero entries"):
        idx.upsert([Vector(id="no", sparse_vector=SparseVector(list(range(1001)), [1.0] * 1001))])
    with pytest.raises(UpstashError, match=r"sparseVector: the values of repeated index 4 add up beyond"):
        idx.upsert([Vector(id="no", sparse_vector=SparseVector([4, 4], [3e38, 3e38]))])
    assert [r.id for r in idx.range(limit=10).vectors] == ["ok"]


# --- fusion in float32 ------------------------------------------------------------------


def populate_like_the_js_sdk(idx, namespace=""):
    idx.upsert(
        [
            Vector(id="id0", vector=[0.1, 0.2], sparse_vector=SparseVector([0, 1], [0.1, 0.2])),
            Vector(
                id="id1", vector=[0.2, 0.3], sparse_vector=SparseVector([1, 2], [0.2, 0.3]), metadata={"key": "value"}
            ),
            Vector(
                id="id2", vector=[0.3, 0.4], sparse_vector=SparseVector([2, 3], [0.3, 0.4]), metadata={"key": "value"}
            ),
        ],
        namespace=namespace,
    )


@NAMESPACES
def test_it_fuses_rrf_and_dbsf_in_float32_like_the_hosted_service(live_index, ns):
    idx = live_index(dimension=2, index_type="HYBRID").sdk()
    populate_like_the_js_sdk(idx, ns)

    rrf = idx.query(vector=[0.1, 0.1], sparse_vector=SparseVector([3, 4], [0.1, 0.2]), top_k=1, namespace=ns)
    assert [(r.id, r.score) for r in rrf] == [("id2", 0.033333335)]
    rrf = idx.query(vector=[0.5, 0.1], sparse_vector=SparseVector([0, 1], [0.5, 0.1]), top_k=1, namespace=ns)
    assert [(r.id, r.score) for r in rrf] == [("id0", 0.032795697)]
    first, handle = idx.resumable_query(
        vector=[0.1, 0.1],
        sparse_vector=SparseVector([0], [0.1]),
        top_k=2,
        weighting_strategy=WeightingStrategy.IDF,
        fusion_algorithm=FusionAlgorithm.DBSF,
        namespace=ns,
    )
    with handle:
        assert [(r.id, r.score) for r in first] == [("id2", 0.617851), ("id0", 0.5)]
        assert [(r.id, r.score) for r in handle.fetch_next(1)] == [("id1", 0.5)]


# --- range cursors ----------------------------------------------------------------------


@NAMESPACES
def test_it_pages_a_fresh_namespace_by_fives_and_survives_deletes(live_index, ns):
    idx = live_index().sdk()
    other = live_index("other").sdk()
    other.upsert([(f"x{i}", [1, i + 1]) for i in range(30)])  # another index's rows come first
    idx.upsert([(f"id-{i}", [i + 1, 1]) for i in range(20)], namespace=ns)

    first = idx.range(cursor="", limit=5, namespace=ns)
    second = idx.range(cursor=first.next_cursor, limit=5, namespace=ns)
    assert (first.next_cursor, second.next_cursor) == ("5", "10")
    idx.delete(["id-9", "id-10", "id-11"], namespace=ns)
    idx.upsert([("id-0", [5, 5]), ("late", [1, 2])], namespace=ns)  # a replaced id keeps its place
    third = idx.range(cursor=second.next_cursor, limit=5, namespace=ns)
    rest = idx.range(cursor=third.next_cursor, limit=100, namespace=ns)
    assert [v.id for v in third.vectors] == ["id-12", "id-13", "id-14", "id-15", "id-16"]
    assert third.next_cursor == "17"
    assert [v.id for v in rest.vectors] == ["id-17", "id-18", "id-19", "late"] and rest.next_cursor == ""
    assert idx.range(cursor="0", limit=1, namespace=ns).vectors[0].id == "id-0"


def test_it_numbers_a_reset_namespace_from_the_start_again(live_index):
    idx = live_index().sdk()
    idx.upsert([(f"a{i}", [1, i + 1]) for i in range(8)])
    idx.reset()
    idx.upsert([(f"b{i}", [1, i + 1]) for i in range(8)])
    assert idx.range(cursor="", limit=5).next_cursor == "5"


@pytest.mark.parametrize("cursor", [*UNICODE_DIGITS, "-1", "1e3", " 5", "99999999999999999999", "0x10"])
def test_it_refuses_cursors_that_are_not_ascii_digits(live_index, cursor):
    idx = live_index().sdk()
    idx.upsert([("a", [1, 2])])
    with pytest.raises(UpstashError, match=r"^cursor: must be a cursor returned by an earlier range call$"):
        idx.range(cursor=cursor, limit=5)


def test_it_reads_a_range_page_by_keyset_on_the_record_number(live_index, api):
    live = live_index()
    live.sdk().upsert([(f"r{i}", [1, i + 1]) for i in range(50)])
    with CaptureQueriesContext(connection) as queries:
        response = api("range", {"cursor": "20", "limit": 5}, token=live.token)
    assert [v["id"] for v in response.json()["result"]["vectors"]] == [f"r{i}" for i in range(20, 25)]
    page = next(q["sql"] for q in queries.captured_queries if '"number" >' in q["sql"])
    assert '"search_vector"."number" > 20)' in page and page.endswith("LIMIT 6") and "OFFSET" not in page


# --- resumable queries on a missing namespace -------------------------------------------


def test_it_gives_a_usable_handle_on_a_missing_namespace_that_holds_nothing(live_index):
    live = live_index()
    idx = live.sdk()
    live.index.max_active_queries = 1
    live.index.save()
    idx.upsert([("a", [1, 2])])
    _, real = idx.resumable_query(vector=[1, 2], top_k=1)  # the one handle the cap allows

    for _ in range(3):
        first, handle = idx.resumable_query(vector=[1, 2], top_k=1, namespace="ghost")
        assert first == []
        with handle:
            assert handle.fetch_next(5) == []
        handle.stop()  # stateless: a second stop is the same empty query stopped again

    assert ResumableQuery.objects.count() == 1
    assert not Namespace.objects.filter(name="ghost").exists()
    real.stop()


def test_it_keeps_an_empty_handle_to_its_own_index(live_index):
    one, two = live_index("one").sdk(), live_index("two").sdk()
    _, handle = one.resumable_query(vector=[1, 2], namespace="ghost")
    with pytest.raises(UpstashError, match="does not exist, was stopped, or has expired"):
        raw(two, "/resumable-query-next", {"uuid": handle._uid, "additionalK": 1})
    assert raw(one, "/resumable-query-next", {"uuid": handle._uid, "additionalK": 1}) == []


# --- rename-namespace -------------------------------------------------------------------


def test_it_renames_a_namespace_and_its_live_handles_follow(live_index):
    idx = live_index().sdk()
    idx.upsert([(f"v{i}", [1, i + 1]) for i in range(6)], namespace="old")
    first, handle = idx.resumable_query(vector=[1, 1], top_k=2, namespace="old")

    assert raw(idx, "/rename-namespace", {"namespace": "old", "newNamespace": "new"}) == {"renamed": True}

    assert idx.list_namespaces() == ["", "new"]
    more = handle.fetch_next(10)
    assert sorted(r.id for r in first + more) == [f"v{i}" for i in range(6)]
    handle.stop()
    assert idx.range(cursor="", limit=3, namespace="new").next_cursor == "3"
    assert idx.fetch("v0", namespace="old") == [None]


def test_it_replaces_an_existing_namespace_only_when_asked(live_index):
    idx = live_index().sdk()
    idx.upsert([("a", [1, 2])], namespace="src")
    idx.upsert([("b", [2, 1])], namespace="dst")
    _, doomed = idx.resumable_query(vector=[1, 1], namespace="dst")

    with pytest.raises(UpstashError, match=r"^newNamespace: namespace dst already exists; pass deleteExisting"):
        raw(idx, "/rename-namespace", {"namespace": "src", "newNamespace": "dst"})
    assert idx.info().namespaces["dst"].vector_count == 1

    body = {"namespace": "src", "newNamespace": "dst", "deleteExisting": True}
    assert raw(idx, "/rename-namespace", body) == {"renamed": True}
    assert [r.id for r in idx.range(limit=5, namespace="dst").vectors] == ["a"]
    with pytest.raises(UpstashError, match="does not exist, was stopped, or has expired"):
        doomed.fetch_next(1)  # its namespace was deleted


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"namespace": "", "newNamespace": "x"}, "namespace: the default namespace cannot be renamed"),
        ({"namespace": "src", "newNamespace": ""}, "newNamespace: the default namespace cannot be replaced"),
        ({"namespace": "ghost", "newNamespace": "x"}, "Namespace ghost for the index live does not exist"),
        ({"namespace": "src"}, "newNamespace: This field is required."),
        ({"namespace": "src", "newNamespace": "x", "deleteExisting": "yes"}, "deleteExisting: must be true or false"),
    ],
)
def test_it_refuses_a_rename_it_cannot_do_and_changes_nothing(live_index, body, message):
    idx = live_index().sdk()
    idx.upsert([("a", [1, 2])], namespace="src")
    with pytest.raises(UpstashError) as refused:
        raw(idx, "/rename-namespace", body)
    assert str(refused.value) == message
    assert idx.list_namespaces() == ["", "src"]


def test_it_answers_false_for_a_rename_to_the_same_name(live_index):
    idx = live_index().sdk()
    idx.upsert([("a", [1, 2])], namespace="same")
    assert raw(idx, "/rename-namespace", {"namespace": "same", "newNamespace": "same"}) == {"renamed": False}


def test_it_refuses_a_rename_with_a_read_only_token(live_index):
    live = live_index()
    live.sdk().upsert([("a", [1, 2])], namespace="src")
    with pytest.raises(UpstashError, match="read-only"):
        raw(live.sdk(live.readonly_token), "/rename-namespace", {"namespace": "src", "newNamespace": "x"})


# --- random -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["DENSE", "SPARSE", "HYBRID"])
def test_it_draws_a_random_record_with_its_vector_parts(live_index, kind):
    idx = live_index(dimension=None if kind == "SPARSE" else 2, index_type=kind).sdk()
    assert raw(idx, "/random") is None
    assert raw(idx, "/random/ghost") is None
    dense = [0.5, 1.0] if kind != "SPARSE" else None
    sparse = SparseVector([4], [0.25]) if kind != "DENSE" else None
    idx.upsert([Vector(id="only", vector=dense, sparse_vector=sparse, metadata={"m": 1}, data="d")], namespace="ns")
    expected: dict[str, object] = {"id": "only"}
    if dense is not None:
        expected["vector"] = dense
    if sparse is not None:
        expected["sparseVector"] = {"indices": [4], "values": [0.25]}
    assert raw(idx, "/random/ns") == expected


def test_it_draws_uniformly(live_index):
    idx = live_index().sdk()
    idx.upsert([(f"r{i}", [1, i + 1]) for i in range(40)])
    idx.delete([f"r{i}" for i in range(40) if i % 8])  # five left, with gaps between them
    counts = Counter(raw(idx, "/random")["id"] for _ in range(500))
    assert set(counts) == {"r0", "r8", "r16", "r24", "r32"}
    # 100 expected each; outside 50..160 has a probability below one in a million.
    assert all(50 <= count <= 160 for count in counts.values()), counts


def test_it_draws_from_a_namespace_that_lost_almost_everything(live_index):
    idx = live_index().sdk()
    idx.upsert([(f"r{i}", [1, i + 1]) for i in range(1000)])
    idx.upsert([(f"s{i}", [1, i + 1]) for i in range(1000)])
    idx.delete(prefix="r")
    idx.delete([f"s{i}" for i in range(1, 1000)])
    assert {raw(idx, "/random")["id"] for _ in range(5)} == {"s0"}


def test_it_draws_without_scanning_the_namespace(live_index, api):
    live = live_index()
    live.sdk().upsert([(f"r{i}", [1, i + 1]) for i in range(200)])
    with CaptureQueriesContext(connection) as queries:
        assert api("random", token=live.token).json()["result"]["id"].startswith("r")
    draws = [q["sql"] for q in queries.captured_queries if '"number" IN' in q["sql"]]
    assert len(draws) == 1 and "ORDER BY" not in draws[0] and "OFFSET" not in draws[0]


# --- verbs, info, batches ---------------------------------------------------------------


def test_it_answers_the_php_sdks_verbs_with_a_json_body(live_index):
    live = live_index()
    live.sdk().upsert([("a", [1, 2]), ("b", [2, 1])], namespace="ns")
    headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}

    def send(method, path, body=None):
        content = json.dumps(body) if body is not None else None
        return httpx.request(method, f"{live.url}/{path}", headers=headers, content=content).json()

    assert send("GET", "fetch/ns", {"ids": ["a"], "includeVectors": True}) == {
        "result": [{"id": "a", "vector": [1, 2]}]
    }
    assert send("GET", "range/ns", {"cursor": "0", "limit": 1})["result"]["nextCursor"] == "1"
    assert send("GET", "info")["result"]["namespaces"]["ns"]["vectorCount"] == 2
    assert send("GET", "list-namespaces") == {"result": ["", "ns"]}
    assert send("GET", "random/ns")["result"]["id"] in {"a", "b"}
    assert send("DELETE", "delete/ns", {"ids": ["a"]}) == {"result": {"deleted": 1}}
    assert send("PUT", "rename-namespace", {"namespace": "ns", "newNamespace": "n2"}) == {"result": {"renamed": True}}
    assert send("DELETE", "reset?all=true") == {"result": "Success"}
    assert send("DELETE", "delete-namespace/n2") == {"result": "Success"}
    assert live.sdk().info().vector_count == 0
    assert httpx.request("HEAD", f"{live.url}/reset", headers=headers).status_code == 405


@pytest.mark.parametrize("kind", ["DENSE", "SPARSE", "HYBRID"])
def test_it_reports_the_index_type_with_the_embedding_models(live_index, kind):
    idx = live_index(dimension=None if kind == "SPARSE" else 2, index_type=kind).sdk()
    result = raw(idx, "/info")
    assert result["indexType"] == kind
    assert ("denseIndex" in result) == (kind != "SPARSE") and ("sparseIndex" in result) == (kind != "DENSE")
    for part in ("denseIndex", "sparseIndex"):
        if part in result:
            assert result[part]["embeddingModel"] == ""
    info = idx.info()
    assert (info.dense_index is None) == (kind == "SPARSE") and (info.sparse_index is None) == (kind == "DENSE")


def test_it_answers_a_batch_of_one_query_as_one_query(live_index):
    idx = live_index().sdk()
    idx.upsert([("a", [0.6, 0.8]), ("b", [0.8, 0.6])])
    flat = [{"id": "a", "score": 1}, {"id": "b", "score": 0.98}]
    assert raw(idx, "/query", [{"vector": [0.6, 0.8], "topK": 2}]) == flat
    assert raw(idx, "/query", {"vector": [0.6, 0.8], "topK": 2}) == flat
    [only] = idx.query_many(queries=[{"vector": [0.6, 0.8], "top_k": 2}])  # the SDK sends one query
    assert [(r.id, r.score) for r in only] == [("a", 1), ("b", 0.98)]
    two = raw(idx, "/query", [{"vector": [0.6, 0.8], "topK": 1}, {"vector": [0.8, 0.6], "topK": 1}])
    assert two == [[{"id": "a", "score": 1}], [{"id": "b", "score": 1}]]


# --- limits -----------------------------------------------------------------------------


def test_it_refuses_each_limit_naming_the_field_and_writes_nothing(live_index):
    idx = live_index(dimension=2).sdk()
    idx.upsert([("keep", [1, 2])])
    refusals = [
        (lambda: idx.upsert([(f"v{i}", [1, 2]) for i in range(1001)]), "body: at most 1000 items per request"),
        (lambda: idx.fetch([f"v{i}" for i in range(1001)]), "ids: Ensure this field has no more than 1000 elements."),
        (lambda: idx.delete([f"v{i}" for i in range(1001)]), "ids: Ensure this field has no more than 1000 elements."),
        (lambda: idx.query(vector=[1, 2], top_k=1001), "topK: Ensure this value is less than or equal to 1000."),
        (lambda: idx.range(limit=1001), "limit: Ensure this value is less than or equal to 1000."),
        (
            lambda: idx.upsert([("m", [1, 2], {"pad": "x" * (48 * 1024)})]),
            "[0].metadata: must be at most 49152 bytes as JSON",
        ),
        (lambda: idx.upsert([("d", [1, 2], None, "x" * (1024 * 1024 + 1))]), "[0].data: must be at most 1048576 bytes"),
    ]
    for call, message in refusals:
        with pytest.raises(UpstashError) as refused:
            call()
        assert str(refused.value) == message
    assert list(VectorRow.objects.values_list("key", flat=True)) == ["keep"]
    # At the limits themselves, each is accepted.
    assert (
        idx.upsert([("m", [1, 2], {"p": "x" * (48 * 1024 - 10)}), ("d", [1, 2], None, "x" * 1024 * 1024)]) == "Success"
    )


def test_it_fetches_at_most_a_thousand_records_by_prefix(live_index):
    idx = live_index().sdk()
    for start in range(0, 1001, 500):
        idx.upsert([(f"p{i:04d}", [1, i + 1]) for i in range(start, min(start + 500, 1001))])
    fetched = idx.fetch(prefix="p")
    assert len(fetched) == 1000 and fetched[0].id == "p0000" and fetched[-1].id == "p0999"
    assert [r.id for r in idx.fetch(prefix="p1")] == ["p1000"]


def test_it_documents_the_new_endpoints_and_every_verb(client, db):
    import yaml

    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]

    for path in ["/v1/rename-namespace", "/v1/random", "/v1/random/{namespace}", "/v1/fetch", "/v1/reset"]:
        assert set(paths[path]) >= {"get", "post", "put", "delete"}, path
        assert not {"head", "patch"} & set(paths[path]), path
    body = paths["/v1/rename-namespace"]["post"]["requestBody"]["content"]
    assert all(media["schema"]["$ref"].endswith("/RenameNamespaceRequest") for media in body.values())


def test_it_numbers_an_upsert_in_the_same_statements_whatever_its_size(live_index, api):
    live = live_index()

    def statements(items):
        with CaptureQueriesContext(connection) as queries:
            assert api("upsert", items, token=live.token).json() == {"result": "Success"}
        return len(queries.captured_queries)

    small = statements([{"id": f"s{i}", "vector": [1, i + 1]} for i in range(10)])
    large = statements([{"id": f"l{i}", "vector": [1, i + 1]} for i in range(500)])
    mixed = statements([{"id": f"l{i}", "vector": [2, i + 1]} for i in range(250, 750)])  # half new, half replaced
    assert small == large == mixed
    numbers = dict(VectorRow.objects.values_list("key", "number"))
    assert (numbers["s0"], numbers["l0"], numbers["l499"], numbers["l500"], numbers["l749"]) == (1, 11, 510, 511, 760)
