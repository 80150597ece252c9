"""Bad input over raw HTTP: each answer is exactly {"error": <message naming the field>, "status": N},
and nothing is written."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.management import CommandError, call_command

from search.errors import InvalidInput
from search.models import Index, Namespace, Vector
from search.services.indexes import IndexSpec, index_create, index_delete
from search.services.records import RecordInput
from search.services.vectors import vectors_upsert

UNAUTHORIZED = {"error": "Unauthorized: Invalid auth token", "status": 401}
READ_ONLY = {"error": "This token is read-only; use the index's read-write token for writes.", "status": 403}
NO_ROUTE = {"error": "no such command or route", "status": 404}
BIG = "1" + "0" * 400  # a JSON integer no double can hold


@pytest.fixture(autouse=True)
def _quiet_client_errors(caplog):
    # Django logs every 4xx as a warning; formatting those thousands of records costs
    # more than the requests themselves. A 500 is still logged (at ERROR).
    caplog.set_level(logging.ERROR, logger="django.request")


class Raw(str):
    """A body sent byte for byte rather than JSON-encoded."""


def send(api, path, body, token):
    if isinstance(body, Raw):
        return api(path, token=token, raw=str(body))
    return api(path, body, token=token)


def assert_error(response, status, message):
    assert (response.status_code, response.json()) == (status, {"error": message, "status": status})


def snapshot():
    """Everything a request could have written."""
    return (
        sorted(Namespace.objects.values_list("index__name", "name", "vector_count")),
        sorted(
            (row.namespace.name, row.key, str(row.embedding), json.dumps(row.metadata), row.data)
            for row in Vector.objects.select_related("namespace")
        ),
    )


@pytest.fixture(scope="module")
def shared_index(django_db_setup, django_db_blocker):
    """A COSINE index of dimension 2 holding one record in "" and one in "books".

    Made once for the module (each test's own writes are rolled back), since creating
    and dropping an index with its HNSW index per case would dominate the runtime."""
    with django_db_blocker.unblock():
        credentials = index_create(IndexSpec(name="bad-input", dimension=2))
        for namespace in ("", "books"):
            vectors_upsert(
                index=credentials.index,
                namespace=namespace,
                records=[RecordInput(id="keep", vector=[0.6, 0.8], metadata={"m": 1}, data="kept")],
            )
    yield credentials
    with django_db_blocker.unblock():
        index_delete(index=credentials.index)


@pytest.fixture
def index(db, shared_index):
    return shared_index


def bad(path, body, status, message, id):
    return pytest.param(path, body, status, message, id=id)


BAD_UPSERTS = [
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [1, 2]'),
        400,
        "body: malformed JSON (JSON parse error - Expecting ',' delimiter: line 1 column 30 (char 29))",
        "truncated",
    ),
    bad(
        "upsert",
        Raw("{'id': 'a'}"),
        400,
        "body: malformed JSON (JSON parse error - Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1))",
        "single-quotes",
    ),
    bad(
        "upsert",
        Raw('{"id": "a", "vector": [1, 2]} extra'),
        400,
        "body: malformed JSON (JSON parse error - Extra data: line 1 column 31 (char 30))",
        "trailing-data",
    ),
    bad(
        "upsert",
        Raw("[" * 100_000 + "]" * 100_000),
        400,
        "body: malformed JSON (JSON parse error - nested too deeply)",
        "nested-too-deeply",
    ),
    bad("upsert", Raw('"a string"'), 400, "body: must be a JSON object or an array of objects", "body-string"),
    bad("upsert", Raw("42"), 400, "body: must be a JSON object or an array of objects", "body-number"),
    bad("upsert", Raw("null"), 400, "body: must be a JSON object or an array of objects", "body-null"),
    bad("upsert", [{"id": "a", "vector": [1, 2]}, 5], 400, "[1]: must be a JSON object", "item-not-object"),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, 2, 3]}],
        422,
        "[0].vector: Invalid vector dimension: 3, expected: 2",
        "wrong-dimension",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [NaN, 1]}]'),
        400,
        "body: malformed JSON (JSON parse error - Out of range float values are not JSON compliant: 'NaN')",
        "nan",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [1, Infinity]}]'),
        400,
        "body: malformed JSON (JSON parse error - Out of range float values are not JSON compliant: 'Infinity')",
        "infinity",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [-Infinity, 1]}]'),
        400,
        "body: malformed JSON (JSON parse error - Out of range float values are not JSON compliant: '-Infinity')",
        "minus-infinity",
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1e39, 1]}],
        400,
        "[0].vector: element 0 is not a finite 32-bit float",
        "float32-overflow",
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, -3.5e38]}],
        400,
        "[0].vector: element 1 is not a finite 32-bit float",
        "float32-negative-overflow",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [1e400, 1]}]'),
        400,
        "[0].vector: element 0 is not a finite 32-bit float",
        "double-overflow",
    ),
    bad(
        "upsert",
        Raw(f'[{{"id": "a", "vector": [{BIG}, 1]}}]'),
        400,
        "[0].vector: element 0 is not a finite 32-bit float",
        "huge-integer",
    ),
    bad(
        "upsert", [{"id": "a", "vector": ["1", 2]}], 400, "[0].vector: must be an array of numbers", "string-in-vector"
    ),
    bad("upsert", [{"id": "a", "vector": [True, 2]}], 400, "[0].vector: must be an array of numbers", "bool-in-vector"),
    bad("upsert", [{"id": "a", "vector": "1,2"}], 400, "[0].vector: must be an array of numbers", "vector-string"),
    bad("upsert", [{"id": "a", "vector": []}], 400, "[0].vector: must not be empty", "empty-vector"),
    bad(
        "upsert",
        [{"id": "a", "vector": [0, 0]}],
        400,
        "[0].vector: a zero vector has no direction, so COSINE similarity is undefined for it",
        "zero-vector",
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1e-46, 1e-46]}],
        400,
        "[0].vector: a zero vector has no direction, so COSINE similarity is undefined for it",
        "zero-in-float32",
    ),
    bad("upsert", [{"id": "a"}], 422, "[0].vector: this DENSE index needs a dense vector", "missing-vector"),
    bad(
        "upsert", [{"id": "a", "vector": None}], 422, "[0].vector: this DENSE index needs a dense vector", "null-vector"
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, 2], "sparseVector": {"indices": [1], "values": [0.5]}}],
        422,
        "[0].sparseVector: this DENSE index takes no sparse vector",
        "sparse-on-dense",
    ),
    bad("upsert", [{"id": "", "vector": [1, 2]}], 400, "[0].id: must be a non-empty string or an integer", "empty-id"),
    bad("upsert", [{"id": "x" * 513, "vector": [1, 2]}], 400, "[0].id: must be at most 512 characters", "long-id"),
    bad("upsert", [{"id": True, "vector": [1, 2]}], 400, "[0].id: must be a non-empty string or an integer", "bool-id"),
    bad(
        "upsert",
        [{"id": {"a": 1}, "vector": [1, 2]}],
        400,
        "[0].id: must be a non-empty string or an integer",
        "object-id",
    ),
    bad(
        "upsert", [{"id": ["a"], "vector": [1, 2]}], 400, "[0].id: must be a non-empty string or an integer", "list-id"
    ),
    bad("upsert", [{"id": 1.5, "vector": [1, 2]}], 400, "[0].id: must be a non-empty string or an integer", "float-id"),
    bad(
        "upsert",
        [{"id": "a\x00b", "vector": [1, 2]}],
        400,
        "[0].id: must be a non-empty string or an integer",
        "nul-in-id",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a\\ud800", "vector": [1, 2]}]'),
        400,
        "[0].id: must be a non-empty string or an integer",
        "lone-surrogate-id",
    ),
    bad("upsert", [{"id": None, "vector": [1, 2]}], 400, "[0].id: This field may not be null.", "null-id"),
    bad("upsert", [{"vector": [1, 2]}], 400, "[0].id: This field is required.", "missing-id"),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, 2], "metadata": [1, 2]}],
        400,
        "[0].metadata: must be a JSON object",
        "metadata-list",
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, 2], "metadata": "x"}],
        400,
        "[0].metadata: must be a JSON object",
        "metadata-string",
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, 2], "metadata": {"k": "x" * 49_152}}],
        400,
        "[0].metadata: must be at most 49152 bytes as JSON",
        "metadata-too-large",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [1, 2], "metadata": {"x": 1e400}}]'),
        400,
        "[0].metadata: numbers must be finite (a literal such as 1e400 overflows)",
        "metadata-overflow",
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, 2], "metadata": {"k": "a\x00"}}],
        400,
        "[0].metadata: must not contain NUL characters",
        "metadata-nul",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [1, 2], "metadata": {"\\udfff": 1}}]'),
        400,
        "[0].metadata: must not contain lone surrogate characters",
        "metadata-lone-surrogate",
    ),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [1, 2], "metadata": ' + '{"a": ' * 200 + "{}" + "}" * 200 + "}]"),
        400,
        "[0].metadata: must not be nested more than 64 levels deep",
        "metadata-nested-200-deep",
    ),
    bad(
        "upsert",
        [{"id": "a", "vector": [1, 2], "metadata": {"k\x00": 1}}],
        400,
        "[0].metadata: must not contain NUL characters",
        "metadata-nul-in-key",
    ),
    bad("upsert", [{"id": "a", "vector": [1, 2], "data": 5}], 400, "[0].data: must be a string", "data-number"),
    bad(
        "upsert",
        Raw('[{"id": "a", "vector": [1, 2], "data": "\\ud800"}]'),
        400,
        "[0].data: must not contain lone surrogate characters",
        "data-lone-surrogate",
    ),
    bad(
        "upsert/books",
        [{"id": "a", "vector": [1, 2]}, {"id": "b", "vector": [1]}],
        422,
        "[1].vector: Invalid vector dimension: 1, expected: 2",
        "named-namespace",
    ),
    bad(
        "upsert/" + "n" * 256,
        [{"id": "a", "vector": [1, 2]}],
        400,
        "namespace: at most 255 characters",
        "namespace-too-long",
    ),
    bad(
        "upsert/a%01b",
        [{"id": "a", "vector": [1, 2]}],
        400,
        "namespace: control characters are not allowed",
        "namespace-control-character",
    ),
    bad(
        "upsert-data",
        [{"id": "a", "data": "text"}],
        422,
        "Embedding data for this index is not allowed. The index must be created with an embedding model to use it.",
        "data-without-model",
    ),
]

BAD_QUERIES = [
    bad(
        "query",
        {"vector": [1, 2], "topK": 0},
        400,
        "topK: Ensure this value is greater than or equal to 1.",
        "top-k-zero",
    ),
    bad(
        "query",
        {"vector": [1, 2], "topK": -1},
        400,
        "topK: Ensure this value is greater than or equal to 1.",
        "top-k-negative",
    ),
    bad(
        "query",
        {"vector": [1, 2], "topK": 1001},
        400,
        "topK: Ensure this value is less than or equal to 1000.",
        "top-k-too-large",
    ),
    bad(
        "query",
        Raw(f'{{"vector": [1, 2], "topK": {BIG}}}'),
        400,
        "topK: Ensure this value is less than or equal to 1000.",
        "top-k-huge",
    ),
    bad("query", {"vector": [1, 2], "topK": "5"}, 400, "topK: must be an integer", "top-k-string"),
    bad("query", {"vector": [1, 2], "topK": 1.5}, 400, "topK: must be an integer", "top-k-fraction"),
    bad("query", {"vector": [1, 2], "topK": True}, 400, "topK: must be an integer", "top-k-bool"),
    bad("query", {"vector": [1, 2, 3]}, 422, "vector: Invalid vector dimension: 3, expected: 2", "wrong-dimension"),
    bad("query", {"vector": [1, "2"]}, 400, "vector: must be an array of numbers", "string-in-vector"),
    bad("query", {"vector": [1e39, 1]}, 400, "vector: element 0 is not a finite 32-bit float", "float32-overflow"),
    bad("query", {}, 400, "vector: a query needs a vector or a sparseVector", "no-vector"),
    bad(
        "query",
        {"vector": [1, 2], "includeVectors": "yes"},
        400,
        "includeVectors: must be true or false",
        "include-not-bool",
    ),
    bad("query", {"vector": [1, 2], "filter": 5}, 400, "filter: must be a string", "filter-not-string"),
    bad(
        "query",
        [{"vector": [1, 2]}, {"vector": [1, 2], "topK": 0}],
        400,
        "[1].topK: Ensure this value is greater than or equal to 1.",
        "batch-bad-top-k",
    ),
    bad(
        "query/books",
        [{"vector": [1, 2]}, {"vector": [1]}],
        422,
        "[1].vector: Invalid vector dimension: 1, expected: 2",
        "batch-wrong-dimension",
    ),
    bad("query", Raw("[1, 2]"), 400, "[0]: must be a JSON object", "batch-of-numbers"),
    bad("resumable-query", [{"vector": [1, 2]}], 400, "body: must be a JSON object", "resumable-batch"),
    bad(
        "resumable-query",
        {"vector": [1, 2], "maxIdle": 0},
        400,
        "maxIdle: Ensure this value is greater than or equal to 1.",
        "resumable-max-idle",
    ),
    bad(
        "resumable-query-next",
        {"uuid": "nope", "additionalK": 1},
        400,
        "uuid: must be a resumable query handle (a UUID)",
        "next-bad-uuid",
    ),
    bad(
        "resumable-query-next",
        {"uuid": "3f0c8e0e-5b7e-4f7a-9a51-0c1d2e3f4a5b", "additionalK": 1},
        404,
        "uuid: Resumable query 3f0c8e0e-5b7e-4f7a-9a51-0c1d2e3f4a5b does not exist, was stopped, or has expired",
        "next-unknown-uuid",
    ),
    bad(
        "resumable-query-next", {"uuid": None, "additionalK": 1}, 400, "uuid: This field may not be null.", "null-uuid"
    ),
    bad(
        "resumable-query-next",
        {"uuid": "", "additionalK": 0},
        400,
        "additionalK: Ensure this value is greater than or equal to 1.",
        "empty-uuid-bad-k",
    ),
    bad("resumable-query-end", {"uuid": 5}, 400, "uuid: must be a resumable query handle (a UUID)", "end-number"),
    bad(
        "resumable-query-end",
        {"uuid": "3f0c8e0e-5b7e-4f7a-9a51-0c1d2e3f4a5b"},
        404,
        "uuid: Resumable query 3f0c8e0e-5b7e-4f7a-9a51-0c1d2e3f4a5b does not exist, was stopped, or has expired",
        "end-unknown-uuid",
    ),
]

BAD_READS = [
    bad(
        "fetch",
        {"ids": ["keep"], "prefix": "k"},
        400,
        "ids: Only one of ids or prefix must be provided.",
        "fetch-ids-and-prefix",
    ),
    bad("fetch", {}, 400, "ids: Only one of ids or prefix must be provided.", "fetch-neither"),
    bad("fetch", {"ids": "keep"}, 400, 'ids: Expected a list of items but got type "str".', "fetch-ids-string"),
    bad("fetch", {"ids": ["keep", True]}, 400, "ids[1]: must be a non-empty string or an integer", "fetch-bool-id"),
    bad("fetch", {"prefix": 5}, 400, "prefix: must be a string", "fetch-prefix-number"),
    bad("fetch", [], 400, "body: must be a JSON object", "fetch-array"),
    bad("range", {"limit": 0}, 400, "limit: Ensure this value is greater than or equal to 1.", "range-limit-zero"),
    bad("range", {}, 400, "limit: This field is required.", "range-limit-missing"),
    bad("range", {"limit": "5"}, 400, "limit: must be an integer", "range-limit-string"),
    bad("range", {"limit": 1001}, 400, "limit: Ensure this value is less than or equal to 1000.", "range-limit-big"),
    bad(
        "range",
        {"limit": 5, "cursor": "abc"},
        400,
        "cursor: must be a cursor returned by an earlier range call",
        "range-cursor-text",
    ),
    bad(
        "range",
        {"limit": 5, "cursor": "-1"},
        400,
        "cursor: must be a cursor returned by an earlier range call",
        "range-cursor-negative",
    ),
    bad(
        "range",
        {"limit": 5, "cursor": 1.5},
        400,
        "cursor: must be a cursor returned by an earlier range call",
        "range-cursor-fraction",
    ),
    bad(
        "range",
        {"limit": 5, "cursor": [1]},
        400,
        "cursor: must be a cursor returned by an earlier range call",
        "range-cursor-list",
    ),
    bad(
        "range",
        {"limit": 5, "cursor": "9" * 20},
        400,
        "cursor: must be a cursor returned by an earlier range call",
        "range-cursor-overflow",
    ),
    # Digits of other scripts: Python's int() crashes on some and reads others as numbers.
    *(
        bad(
            "range",
            {"limit": 5, "cursor": cursor},
            400,
            "cursor: must be a cursor returned by an earlier range call",
            name,
        )
        for cursor, name in [
            ("\u00b2", "superscript"),
            ("\u2460", "circled"),
            ("\u00b9\u00b2\u00b3", "superscripts"),
            ("1\u00b2", "digit-and-superscript"),
            ("\uff11\uff12", "full-width"),
            ("\u0661\u0662", "arabic-indic"),
        ]
    ),
]

BAD_WRITES = [
    bad("delete", {}, 400, "ids: Only and only one of the ids, prefix, or filter must be provided.", "delete-none"),
    bad(
        "delete",
        {"ids": ["keep"], "prefix": "k"},
        400,
        "ids: Only and only one of the ids, prefix, or filter must be provided.",
        "delete-ids-and-prefix",
    ),
    bad(
        "delete",
        {"ids": ["keep"], "filter": "m = 1"},
        400,
        "ids: Only and only one of the ids, prefix, or filter must be provided.",
        "delete-ids-and-filter",
    ),
    bad(
        "delete/books",
        {"prefix": "k", "filter": "m = 1"},
        400,
        "ids: Only and only one of the ids, prefix, or filter must be provided.",
        "delete-prefix-and-filter",
    ),
    bad(
        "delete",
        {"ids": ["keep"], "prefix": "k", "filter": "m = 1"},
        400,
        "ids: Only and only one of the ids, prefix, or filter must be provided.",
        "delete-all-three",
    ),
    bad("delete", {"prefix": ""}, 400, "prefix: This field may not be blank.", "delete-empty-prefix"),
    bad("delete", {"filter": ""}, 400, "filter: This field may not be blank.", "delete-empty-filter"),
    bad("delete", {"ids": [""]}, 400, "ids[0]: must be a non-empty string or an integer", "delete-empty-id"),
    bad(
        "update",
        {"id": "keep", "metadata": {"m": 2}, "metadataUpdateMode": "MERGE"},
        400,
        'metadataUpdateMode: "MERGE" is not a valid choice.',
        "update-bad-mode",
    ),
    bad(
        "update",
        {"id": "keep", "vector": [1]},
        422,
        "vector: Invalid vector dimension: 1, expected: 2",
        "update-wrong-dimension",
    ),
    bad(
        "update",
        {"id": "keep", "vector": [0, 0]},
        400,
        "vector: a zero vector has no direction, so COSINE similarity is undefined for it",
        "update-zero-vector",
    ),
    bad("update", {"metadata": {"m": 2}}, 400, "id: This field is required.", "update-no-id"),
    bad("update", {"id": "keep", "metadata": ["m"]}, 400, "metadata: must be a JSON object", "update-metadata-list"),
    bad(
        "update",
        Raw('{"id": "keep", "metadataUpdateMode": "PATCH", "metadata": ' + '{"a": ' * 200 + "{}" + "}" * 200 + "}"),
        400,
        "metadata: must not be nested more than 64 levels deep",
        "update-metadata-nested-200-deep",
    ),
    bad(
        "update",
        {"id": "keep", "metadata": {"k": ["a\x00"]}},
        400,
        "metadata: must not contain NUL characters",
        "update-metadata-nul",
    ),
    bad("update", {"id": "keep", "data": 1}, 400, "data: must be a string", "update-data-number"),
    bad(
        "update/books",
        {"id": "keep", "sparseVector": {"indices": [1], "values": [1]}},
        422,
        "sparseVector: this DENSE index takes no sparse vector",
        "update-sparse-on-dense",
    ),
    bad("reset/books?all", None, 400, "namespace: ?all resets every namespace; do not name one", "reset-all-named"),
    bad("reset?all=maybe", None, 400, "all: must be true or false", "reset-all-not-boolean"),
    bad("delete-namespace", None, 400, "namespace: the default namespace cannot be deleted", "delete-default-ns"),
    bad(
        "delete-namespace/ghost",
        None,
        404,
        "Namespace ghost for the index bad-input does not exist",
        "delete-missing-ns",
    ),
]

ALL_BAD = BAD_UPSERTS + BAD_QUERIES + BAD_READS + BAD_WRITES


@pytest.mark.parametrize(("path", "body", "status", "message"), ALL_BAD)
def test_it_refuses_bad_input_with_the_error_envelope_and_writes_nothing(api, index, path, body, status, message):
    before = snapshot()

    response = send(api, path, body, index.token)

    assert_error(response, status, message)
    assert snapshot() == before


def test_it_never_answers_500_to_any_bad_body_on_any_endpoint(api, index):
    # Every endpoint that parses a body of its own kind (reset and delete-namespace ignore it,
    # upsert-data answers 422 first here, and resumable-query-end shares -next's parser).
    skip = {"reset", "delete-namespace", "upsert-data", "resumable-query-end"}
    paths = sorted({param.values[0].split("?")[0].split("/")[0] for param in ALL_BAD} - skip)
    for param in ALL_BAD:
        body = param.values[1]
        for path in paths:
            response = send(api, path, body, index.token)
            assert response.status_code < 500, (path, body)
            assert set(response.json()) in ({"result"}, {"error", "status"}), (path, body)


def test_it_writes_none_of_a_batch_with_one_bad_vector_in_the_middle(api, make_index):
    credentials = make_index()
    batch = [{"id": f"v{n}", "vector": [1, n]} for n in range(5)]
    batch[2] = {"id": "v2", "vector": [1, 2, 3]}

    response = api("upsert/fresh", batch, token=credentials.token)

    assert_error(response, 422, "[2].vector: Invalid vector dimension: 3, expected: 2")
    assert Vector.objects.filter(index=credentials.index).count() == 0
    assert list(Namespace.objects.filter(index=credentials.index).values_list("name", "vector_count")) == [("", 0)]


def test_it_refuses_a_batch_over_the_item_limit(api, index, settings):
    settings.VECSITE_MAX_BATCH = 3
    before = snapshot()

    response = api("upsert", [{"id": f"v{n}", "vector": [1, n]} for n in range(4)], token=index.token)

    assert_error(response, 400, "body: at most 3 items per request")
    assert snapshot() == before


def test_it_refuses_an_oversized_body_with_413(api, index, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    before = snapshot()
    batch = [{"id": f"id-{n}", "vector": [0.5, 0.25]} for n in range(100)]

    response = api("upsert", batch, token=index.token)

    assert_error(response, 413, "body: larger than the 1024 bytes this server accepts")
    assert snapshot() == before
    # A body within the limit still goes through.
    assert api("upsert", batch[:3], token=index.token).json() == {"result": "Success"}


def test_it_answers_an_empty_batch_query_with_an_empty_list(api, index):
    assert api("query", [], token=index.token).json() == {"result": []}


def test_it_accepts_body_less_commands_with_no_body_or_an_empty_array(api, index):
    for raw in ("", "[]"):
        assert api("info", token=index.token, raw=raw).json()["result"]["vectorCount"] == 2
        assert api("list-namespaces", token=index.token, raw=raw).json() == {"result": ["", "books"]}


ROUTES = [
    "upsert", "upsert-data", "query", "query-data", "resumable-query", "resumable-query-data", "resumable-query-next",
    "resumable-query-end", "fetch", "delete", "range", "update", "reset", "reset?all", "info", "list-namespaces",
    "delete-namespace/books", "upsert/books", "reset/books", "delete/books",
]  # fmt: skip


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer wrong-token",
        "Basic dXNlcjpwYXNz",
        "Token {token}",
        "Bearer {token} extra",
        "Bearer caf\u00e9",
    ],
    ids=["missing", "empty", "wrong", "basic", "other-scheme", "extra-part", "non-ascii"],
)
def test_it_answers_401_without_a_valid_token_on_every_route(client, index, authorization):
    before = snapshot()
    headers = {"HTTP_AUTHORIZATION": authorization.format(token=index.token)} if authorization else {}
    for route in ROUTES:
        body = json.dumps([{"id": "x", "vector": [1, 2]}] if route.startswith("upsert") else {"ids": ["keep"]})
        response = client.post(f"/v1/{route}", body, content_type="application/json", **headers)
        assert_error(response, 401, UNAUTHORIZED["error"])
    assert snapshot() == before


WRITES = [
    ("upsert", [{"id": "new", "vector": [1, 2]}]),
    ("upsert/books", [{"id": "new", "vector": [1, 2]}]),
    ("upsert-data", [{"id": "new", "data": "text"}]),
    ("update", {"id": "keep", "metadata": {"m": 2}}),
    ("delete", {"ids": ["keep"]}),
    ("delete/books", {"prefix": "k"}),
    ("reset", None),
    ("reset/books", None),
    ("reset?all", None),
    ("delete-namespace/books", None),
]


@pytest.mark.parametrize(("path", "body"), WRITES, ids=[path for path, _ in WRITES])
def test_it_refuses_every_write_with_a_read_only_token(api, index, path, body):
    before = snapshot()

    response = api(path, body, token=index.readonly_token)

    assert_error(response, 403, READ_ONLY["error"])
    assert snapshot() == before


def test_it_serves_every_read_with_a_read_only_token(api, index):
    token = index.readonly_token
    assert api("query", {"vector": [0.6, 0.8], "topK": 1}, token=token).json() == {
        "result": [{"id": "keep", "score": 1}]
    }
    assert api("query/books", [{"vector": [0.6, 0.8]}, {"vector": [0.8, 0.6]}], token=token).status_code == 200
    assert api("fetch", {"ids": ["keep"], "includeMetadata": True}, token=token).json() == {
        "result": [{"id": "keep", "metadata": {"m": 1}}]
    }
    assert api("range/books", {"limit": 5, "includeData": True}, token=token).json() == {
        "result": {"nextCursor": "", "vectors": [{"id": "keep", "data": "kept"}]}
    }
    assert api("info", token=token).json()["result"]["vectorCount"] == 2
    assert api("list-namespaces", token=token).json() == {"result": ["", "books"]}
    started = api("resumable-query", {"vector": [0.6, 0.8], "topK": 1}, token=token).json()["result"]
    assert started["scores"] == [{"id": "keep", "score": 1}]
    assert api("resumable-query-next", {"uuid": started["uuid"], "additionalK": 1}, token=token).json() == {
        "result": []
    }
    assert api("resumable-query-end", {"uuid": started["uuid"]}, token=token).json() == {"result": "Success"}


def test_it_keeps_each_index_to_its_own_vectors(api, make_index):
    first, second = make_index("first"), make_index("second")
    api("upsert", [{"id": "same", "vector": [1, 0], "metadata": {"owner": "first"}}], token=first.token)
    api("upsert", [{"id": "same", "vector": [0, 1], "metadata": {"owner": "second"}}], token=second.token)
    api("upsert/shared", [{"id": "only-first", "vector": [1, 1]}], token=first.token)

    for credentials, owner, vector in ((first, "first", [1, 0]), (second, "second", [0, 1])):
        for token in (credentials.token, credentials.readonly_token):
            fetched = api("fetch", {"ids": ["same"], "includeMetadata": True, "includeVectors": True}, token=token)
            assert fetched.json() == {"result": [{"id": "same", "vector": vector, "metadata": {"owner": owner}}]}
            hits = api("query", {"vector": [1, 1], "topK": 10, "includeMetadata": True}, token=token).json()["result"]
            assert [(hit["id"], hit["metadata"]) for hit in hits] == [("same", {"owner": owner})]
            assert [v["id"] for v in api("range", {"limit": 10}, token=token).json()["result"]["vectors"]] == ["same"]
            assert api("info", token=token).json()["result"]["vectorCount"] == (2 if owner == "first" else 1)
    assert api("list-namespaces", token=second.token).json() == {"result": [""]}
    assert api("fetch/shared", {"ids": ["only-first"]}, token=second.token).json() == {"result": [None]}

    # Writes with one index's token never touch the other's records.
    assert api("delete", {"ids": ["same"]}, token=second.token).json() == {"result": {"deleted": 1}}
    assert api("update", {"id": "same", "metadata": {}}, token=second.token).json() == {"result": {"updated": 0}}
    assert api("reset?all", token=second.token).json() == {"result": "Success"}
    assert api("fetch", {"ids": ["same"], "includeMetadata": True}, token=first.token).json() == {
        "result": [{"id": "same", "metadata": {"owner": "first"}}]
    }

    # Nor does one index's resumable query handle work for the other.
    started = api("resumable-query", {"vector": [1, 0], "topK": 1}, token=first.token).json()["result"]
    response = api("resumable-query-next", {"uuid": started["uuid"], "additionalK": 1}, token=second.token)
    assert response.status_code == 404
    assert api("resumable-query-end", {"uuid": started["uuid"]}, token=first.token).json() == {"result": "Success"}


@pytest.mark.parametrize("path", ["nope", "info/extra", "", "upsert/", "v2/upsert"])
def test_it_answers_unknown_routes_with_a_json_404(api, index, path):
    assert (api(path, token=index.token).status_code, api(path, token=index.token).json()) == (404, NO_ROUTE)


def test_it_answers_the_bare_api_prefix_with_a_json_404(client):
    response = client.post("/v1")
    assert (response.status_code, response.json()) == (404, NO_ROUTE)


def test_it_runs_get_put_and_delete_like_post(client, index):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {index.token}", "content_type": "application/json"}

    response = client.generic("GET", "/v1/fetch", json.dumps({"ids": ["keep"]}), **auth)
    assert response.json() == {"result": [{"id": "keep"}]}
    response = client.generic("PUT", "/v1/upsert", json.dumps([{"id": "put", "vector": [1, 2]}]), **auth)
    assert response.json() == {"result": "Success"}
    response = client.generic("DELETE", "/v1/delete", json.dumps({"ids": ["put"]}), **auth)
    assert response.json() == {"result": {"deleted": 1}}
    assert client.generic("GET", "/v1/info", "", **auth).json()["result"]["vectorCount"] == 2


def test_it_refuses_patch_and_head_without_running_the_command(client, index):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {index.token}", "content_type": "application/json"}
    before = snapshot()

    response = client.generic("PATCH", "/v1/reset", "", **auth)
    assert_error(response, 405, 'Method "PATCH" not allowed.')
    assert client.generic("HEAD", "/v1/reset", "", **auth).status_code == 405
    assert snapshot() == before


def test_it_refuses_a_read_only_write_before_the_method_matters(client, index):
    response = client.generic(
        "PUT", "/v1/upsert", "[]", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {index.readonly_token}"
    )
    assert_error(response, 403, READ_ONLY["error"])


def test_it_refuses_an_unknown_similarity_when_creating_an_index(db):
    with pytest.raises(InvalidInput, match="similarity: unknown similarity 'MANHATTAN'; use one of COSINE"):
        index_create(IndexSpec(name="bad", dimension=2, similarity="MANHATTAN"))
    with pytest.raises(CommandError, match="invalid choice: 'MANHATTAN'"):
        call_command("create_index", "bad", "--dimension", "2", "--similarity", "manhattan")
    assert not Index.objects.filter(name="bad").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dimension": 0}, "dimension: must be between 1 and 4000"),
        ({"dimension": None}, "dimension: must be between 1 and 4000"),
        ({"dimension": 4001}, "dimension: must be between 1 and 4000"),
        ({"dimension": 2, "index_type": "DENSEST"}, "type: unknown index type 'DENSEST'"),
    ],
)
def test_it_refuses_bad_index_settings(db, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        index_create(IndexSpec(name="bad", **kwargs))
    assert not Index.objects.filter(name="bad").exists()


def test_it_refuses_a_second_index_of_the_same_name(make_index):
    make_index("taken")
    with pytest.raises(InvalidInput, match="name: an index named 'taken' already exists"):
        index_create(IndexSpec(name="taken", dimension=2))
    with pytest.raises(CommandError, match="an index named 'taken' already exists"):
        call_command("create_index", "taken", "--dimension", "2")
