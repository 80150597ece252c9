"""The index management commands, the health check and the API docs."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import connection
from upstash_vector import Index as SdkIndex
from upstash_vector.errors import UpstashError

from search.models import Index, Vector
from search.services.indexes import index_delete
from search.tokens import hash_token


@pytest.fixture
def public_url(transactional_db, live_server, settings):
    """The live server as the public URL, and every index made by a command dropped afterwards."""
    settings.VECSITE_PUBLIC_URL = live_server.url
    yield live_server.url
    for index in Index.objects.all():
        index_delete(index=index)  # also drops its HNSW index, which a table flush would leave behind


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def create(name: str, *args: str) -> dict[str, str]:
    return json.loads(run("create_index", name, "--json", *args))


def sdk(url: str, token: str) -> SdkIndex:
    return SdkIndex(url=url, token=token, retries=0)


def hnsw_indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE %s", ["search_vector_hnsw_%"])
        return {row[0] for row in cursor.fetchall()}


def test_it_creates_an_index_that_the_sdk_reaches_with_the_printed_url_and_token(public_url):
    created = create("books", "--dimension", "3", "--similarity", "euclidean")

    assert set(created) == {"name", "url", "token", "readonly_token"}
    assert created["name"] == "books"
    assert created["url"] == f"{public_url}/v1"
    assert created["token"] != created["readonly_token"]
    idx = sdk(created["url"], created["token"])
    assert idx.upsert([("a", [1, 2, 3]), ("b", [1, 2, 4])]) == "Success"
    assert [(r.id, r.score) for r in idx.query(vector=[1, 2, 3], top_k=2)] == [("a", 1), ("b", 0.5)]
    info = sdk(created["url"], created["readonly_token"]).info()
    assert (info.vector_count, info.dimension, info.similarity_function) == (2, 3, "EUCLIDEAN")
    index = Index.objects.get(name="books")
    assert (index.index_type, index.dimension, index.similarity) == ("DENSE", 3, "EUCLIDEAN")
    assert index.hnsw_index_name in hnsw_indexes()


def test_it_makes_an_index_whose_resumable_queries_stay_exact(public_url):
    create("exact", "--dimension", "2", "--exact-resumable")
    create("approximate", "--dimension", "2")
    assert Index.objects.get(name="exact").exact_resumable
    assert not Index.objects.get(name="approximate").exact_resumable


def test_it_prints_the_tokens_once_in_plain_text_and_stores_only_their_hashes(public_url):
    out = run("create_index", "plain", "--dimension", "2")
    token = next(line.split()[-1] for line in out.splitlines() if line.startswith("Token:"))
    readonly = next(line.split()[-1] for line in out.splitlines() if line.startswith("Read-only token:"))

    assert "only their hashes are stored" in out
    index = Index.objects.get(name="plain")
    assert (index.token_hash, index.readonly_token_hash) == (hash_token(token), hash_token(readonly))
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(i)::text FROM search_index i")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert token not in stored and readonly not in stored
    assert sdk(f"{public_url}/v1", token).info().dimension == 2


def test_it_refuses_bad_create_options(public_url):
    create("taken", "--dimension", "2")
    with pytest.raises(CommandError, match="an index named 'taken' already exists"):
        run("create_index", "taken", "--dimension", "2")
    with pytest.raises(CommandError, match="dimension: must be between 1 and"):
        run("create_index", "flat", "--dimension", "0")
    with pytest.raises(CommandError, match="dimension: must be between 1 and"):
        run("create_index", "no-dimension")
    with pytest.raises(CommandError, match="invalid choice: 'HAMMING'"):
        run("create_index", "odd", "--dimension", "2", "--similarity", "hamming")
    assert list(Index.objects.values_list("name", flat=True)) == ["taken"]


def test_it_lists_indexes_with_their_vector_counts(public_url):
    first = create("alpha", "--dimension", "2")
    create("beta", "--dimension", "4", "--similarity", "DOT_PRODUCT")
    idx = sdk(first["url"], first["token"])
    # Two namespaces with the same count: both must be added up.
    idx.upsert([("a", [0.1, 0.2])])
    idx.upsert([("a", [0.1, 0.2])], namespace="other")
    idx.upsert([("b", [0.2, 0.1])], namespace="third")
    idx.resumable_query(vector=[0.1, 0.2], top_k=1)

    rows = json.loads(run("list_indexes", "--json"))
    table = run("list_indexes")

    assert rows == [
        {
            "name": "alpha",
            "type": "DENSE",
            "dimension": 2,
            "similarity": "COSINE",
            "embedding_model": "",
            "vectors": 3,
            "active_queries": 1,
        },
        {
            "name": "beta",
            "type": "DENSE",
            "dimension": 4,
            "similarity": "DOT_PRODUCT",
            "embedding_model": "",
            "vectors": 0,
            "active_queries": 0,
        },
    ]
    [header, alpha, beta] = table.splitlines()
    assert header.split() == ["NAME", "TYPE", "DIM", "SIMILARITY", "VECTORS", "ACTIVE"]
    assert alpha.split() == ["alpha", "DENSE", "2", "COSINE", "3", "1"]
    assert beta.split() == ["beta", "DENSE", "4", "DOT_PRODUCT", "0", "0"]


def test_it_says_how_to_start_when_there_are_no_indexes(db):
    assert "No indexes yet" in run("list_indexes")
    assert json.loads(run("list_indexes", "--json")) == []


def test_it_rotates_tokens_so_the_old_ones_stop_working(public_url):
    old = create("rotating", "--dimension", "2")
    sdk(old["url"], old["token"]).upsert([("a", [0.1, 0.2])])

    new = json.loads(run("rotate_tokens", "rotating", "--json"))

    assert new["name"] == "rotating" and new["url"] == old["url"]
    assert {new["token"], new["readonly_token"]}.isdisjoint({old["token"], old["readonly_token"]})
    for token in (old["token"], old["readonly_token"]):
        with pytest.raises(UpstashError, match="Unauthorized"):
            sdk(old["url"], token).info()
    [fetched] = sdk(new["url"], new["token"]).fetch("a")
    assert fetched is not None and fetched.id == "a"
    assert sdk(new["url"], new["readonly_token"]).info().vector_count == 1
    with pytest.raises(UpstashError, match="read-only"):
        sdk(new["url"], new["readonly_token"]).upsert([("b", [0.1, 0.2])])
    assert "Token:" in run("rotate_tokens", "rotating")
    with pytest.raises(CommandError, match="no index named 'ghost'"):
        run("rotate_tokens", "ghost")


def test_it_deletes_an_index_with_its_vectors_and_hnsw_index(public_url):
    doomed = create("doomed", "--dimension", "2")
    kept = create("kept", "--dimension", "2")
    sdk(doomed["url"], doomed["token"]).upsert([("a", [0.1, 0.2])], namespace="ns")
    sdk(kept["url"], kept["token"]).upsert([("a", [0.1, 0.2])])
    hnsw_name = Index.objects.get(name="doomed").hnsw_index_name

    assert "Deleted index doomed." in run("delete_index", "doomed", "--yes")

    assert list(Index.objects.values_list("name", flat=True)) == ["kept"]
    assert hnsw_name not in hnsw_indexes()
    assert Vector.objects.count() == 1
    with pytest.raises(UpstashError, match="Unauthorized"):
        sdk(doomed["url"], doomed["token"]).info()
    assert sdk(kept["url"], kept["token"]).info().vector_count == 1
    with pytest.raises(CommandError, match="no index named 'doomed'"):
        run("delete_index", "doomed", "--yes")


def test_it_deletes_only_after_confirmation(make_index, monkeypatch):
    make_index("careful")
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="not deleted"):
        run("delete_index", "careful")
    assert Index.objects.filter(name="careful").exists()

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    run("delete_index", "careful")
    assert not Index.objects.filter(name="careful").exists()


def test_it_reports_health(client, db):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_it_publishes_an_openapi_document_of_every_command(client, db):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    commands = [
        "upsert", "upsert-data", "query", "query-data", "resumable-query", "resumable-query-data",
        "resumable-query-next", "resumable-query-end", "fetch", "delete", "range", "update", "reset",
        "info", "list-namespaces", "delete-namespace",
    ]  # fmt: skip
    assert {f"/v1/{command}" for command in commands} <= set(document["paths"])
    assert all("post" in document["paths"][f"/v1/{command}"] for command in commands)
    namespaced = document["paths"]["/v1/upsert/{namespace}"]["post"]
    assert [(p["name"], p["in"]) for p in namespaced["parameters"]] == [("namespace", "path")]
    assert "parameters" not in document["paths"]["/v1/upsert"]["post"]
    assert document["components"]["securitySchemes"]["indexToken"]["scheme"] == "bearer"


def test_it_generates_the_openapi_document_without_warnings(db, tmp_path):
    # --fail-on-warn turns every guess drf-spectacular has to make into an error.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert "/v1/query/{namespace}" in yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]


def test_it_renders_the_api_docs(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"/api/schema/" in response.content
