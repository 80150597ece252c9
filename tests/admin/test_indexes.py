"""Indexes in the admin: counts, creation with tokens shown once, rotation, the cap, deletion."""

from __future__ import annotations

import re

from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client

from search.admin.indexes import TOKENS_SESSION_KEY
from search.errors import InvalidInput
from search.models import Index, Namespace
from search.tokens import hash_token
from tests.admin.conftest import start_query, upsert

TOKEN = re.compile(rb"\b(vs_[A-Za-z0-9_-]{20,})")
READONLY_TOKEN = re.compile(rb"\b(vsro_[A-Za-z0-9_-]{20,})")


def shown(pattern: re.Pattern[bytes], content: bytes) -> str:
    """The token the page shows."""
    match = pattern.search(content)
    assert match is not None, content[:2000]
    return match.group(1).decode()


def hnsw_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None


def test_it_lists_indexes_with_counts_from_the_namespace_counters(staff: Client, books, make_index) -> None:
    make_index("empty", dimension=3)
    start_query(books)
    start_query(books, "fr")
    # The counters, not the rows, are what the page shows.
    Namespace.objects.filter(index=books, name="").update(vector_count=100_012)
    response = staff.get("/admin/search/index/")
    assert response.status_code == 200
    row = response.context["cl"].result_list.get(name="books")
    assert (row.vector_total, row.namespace_total, row.active_query_total) == (100_017, 2, 2)
    assert b"100,017" in response.content
    assert b"empty" in response.content


def test_it_lists_indexes_in_a_fixed_number_of_queries(
    staff: Client, make_index, django_assert_max_num_queries
) -> None:
    for i in range(8):
        index = make_index(f"ix-{i}", dimension=2).index
        upsert(index, "", 3)
    with django_assert_max_num_queries(8):
        response = staff.get("/admin/search/index/")
    assert response.status_code == 200


def test_it_sorts_indexes_by_vector_count(staff: Client, make_index) -> None:
    upsert(make_index("small", dimension=2).index, "", 1)
    upsert(make_index("large", dimension=2).index, "", 9)
    columns = staff.get("/admin/search/index/").context["cl"].list_display
    column = columns.index("vectors")
    response = staff.get(f"/admin/search/index/?o=-{column}")
    assert [index.name for index in response.context["cl"].result_list] == ["large", "small"]


def test_it_searches_indexes_by_name(staff: Client, books, make_index) -> None:
    make_index("movies", dimension=2)
    response = staff.get("/admin/search/index/?q=mov")
    assert [index.name for index in response.context["cl"].result_list] == ["movies"]


def test_it_creates_an_index_and_shows_its_tokens_once(staff: Client, api) -> None:
    response = staff.post(
        "/admin/search/index/add/",
        {
            "name": "articles",
            "index_type": "DENSE",
            "dimension": "3",
            "similarity": "EUCLIDEAN",
            "embedding_model": "",
            "sparse_embedding_model": "",
            "max_active_queries": "7",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/search/index/tokens/"
    index = Index.objects.get(name="articles")
    try:
        assert (index.dimension, index.similarity, index.max_active_queries) == (3, "EUCLIDEAN", 7)
        # Created through the service: default namespace and HNSW index exist.
        assert Namespace.objects.filter(index=index, name="").exists()
        assert hnsw_exists(index.hnsw_index_name)

        assert any(TOKENS_SESSION_KEY in session.get_decoded() for session in Session.objects.all())
        page = staff.get(response["Location"])
        assert page.status_code == 200
        token = shown(TOKEN, page.content)
        readonly_token = shown(READONLY_TOKEN, page.content)
        assert index.token_hash == hash_token(token)
        assert index.readonly_token_hash == hash_token(readonly_token)
        # Shown once: the session no longer holds them either.
        assert not any(TOKENS_SESSION_KEY in session.get_decoded() for session in Session.objects.all())
        assert api("info", token=token).json()["result"]["dimension"] == 3
        assert api("upsert", [{"id": "a", "vector": [1, 2, 3]}], token=token).status_code == 200
        assert api("fetch", {"ids": ["a"]}, token=readonly_token).status_code == 200

        again = staff.get(response["Location"])
        assert again.status_code == 200
        assert token.encode() not in again.content
        assert TOKEN.search(again.content) is None
        assert b"There are no new tokens to show" in again.content
    finally:
        from search.services.indexes import index_delete

        index_delete(index=index)


def test_it_shows_form_errors_instead_of_creating_a_bad_index(staff: Client, books) -> None:
    base = {"similarity": "COSINE", "max_active_queries": "10", "embedding_model": "", "sparse_embedding_model": ""}
    cases = {
        "books": ({"name": "books", "index_type": "DENSE", "dimension": "2"}, b"Index with this Name already exists."),
        "no-dim": ({"name": "no-dim", "index_type": "DENSE", "dimension": ""}, b"must be between 1 and"),
        "huge": ({"name": "huge", "index_type": "HYBRID", "dimension": "99999"}, b"must be between 1 and"),
        "bad name": ({"name": "bad name", "index_type": "DENSE", "dimension": "2"}, b"Enter a valid"),
        "no-cap": ({"name": "no-cap", "index_type": "DENSE", "dimension": "2", "max_active_queries": "-1"}, b"greater"),
    }
    for name, (fields, message) in cases.items():
        response = staff.post("/admin/search/index/add/", base | fields)
        assert response.status_code == 200, name
        assert message in response.content, name
    assert list(Index.objects.values_list("name", flat=True)) == ["books"]


def test_it_shows_what_the_service_refuses_on_the_form(staff: Client, db: None, monkeypatch) -> None:
    def refuse(*args: object) -> None:
        raise InvalidInput("unknown embedding model 'NOPE'", field="embedding_model")

    monkeypatch.setattr("search.admin.indexes.index_check", refuse)
    response = staff.post(
        "/admin/search/index/add/",
        {
            "name": "texts",
            "index_type": "DENSE",
            "dimension": "",
            "similarity": "COSINE",
            "embedding_model": "NOPE",
            "max_active_queries": "5",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"embedding_model": ["unknown embedding model 'NOPE'"]}
    assert not Index.objects.exists()
    assert TOKENS_SESSION_KEY not in staff.session


def test_it_creates_a_sparse_index_without_a_dimension(staff: Client) -> None:
    response = staff.post(
        "/admin/search/index/add/",
        {
            "name": "terms",
            "index_type": "SPARSE",
            "dimension": "",
            "similarity": "DOT_PRODUCT",
            "max_active_queries": "5",
        },
    )
    assert response.status_code == 302
    index = Index.objects.get(name="terms")
    assert (index.index_type, index.dimension) == ("SPARSE", None)
    index.delete()


def test_it_only_lets_the_resumable_query_settings_change_after_creation(staff: Client, books) -> None:
    page = staff.get(f"/admin/search/index/{books.pk}/change/")
    assert page.status_code == 200
    form_fields = set(page.context["adminform"].form.fields)
    assert form_fields == {"max_active_queries", "exact_resumable"}
    assert b"Rotate tokens" in page.content
    response = staff.post(
        f"/admin/search/index/{books.pk}/change/",
        {
            "max_active_queries": "3",
            "exact_resumable": "on",
            "name": "renamed",
            "dimension": "9",
            "similarity": "EUCLIDEAN",
        },
    )
    assert response.status_code == 302
    books.refresh_from_db()
    assert (books.max_active_queries, books.exact_resumable, books.name, books.dimension, books.similarity) == (
        3,
        True,
        "books",
        2,
        "COSINE",
    )


def test_it_shows_the_counts_on_the_change_page(staff: Client, books) -> None:
    start_query(books)
    page = staff.get(f"/admin/search/index/{books.pk}/change/")
    assert page.status_code == 200
    assert f'href="/admin/search/vector/?index__id__exact={books.pk}">17</a>'.encode() in page.content
    assert f'href="/admin/search/namespace/?index__id__exact={books.pk}">2</a>'.encode() in page.content
    assert f'?index__id__exact={books.pk}&amp;state=active">1</a>'.encode() in page.content


def test_it_rotates_tokens_with_the_button(staff: Client, api, make_index) -> None:
    old = make_index("rotating", dimension=2)
    confirm = staff.get(f"/admin/search/index/{old.index.pk}/rotate-tokens/")
    assert confirm.status_code == 200
    assert b"stop working at once" in confirm.content
    assert api("info", token=old.token).status_code == 200  # nothing happens on GET

    response = staff.post(f"/admin/search/index/{old.index.pk}/rotate-tokens/")
    assert response["Location"] == "/admin/search/index/tokens/"
    page = staff.get("/admin/search/index/tokens/")
    token = shown(TOKEN, page.content)
    readonly_token = shown(READONLY_TOKEN, page.content)

    assert api("info", token=old.token).status_code == 401
    assert api("info", token=old.readonly_token).status_code == 401
    assert api("info", token=token).status_code == 200
    assert api("info", token=readonly_token).status_code == 200
    assert TOKEN.search(staff.get("/admin/search/index/tokens/").content) is None


def test_it_rotates_tokens_of_selected_indexes_with_the_action(staff: Client, api, make_index) -> None:
    first, second, untouched = make_index("one", dimension=2), make_index("two", dimension=2), make_index("three")
    selected = {"action": "rotate_tokens", "_selected_action": [first.index.pk, second.index.pk]}
    confirm = staff.post("/admin/search/index/", selected | {"index": "0"})
    assert confirm.status_code == 200
    assert b"Yes, rotate the tokens" in confirm.content
    assert api("info", token=first.token).status_code == 200

    response = staff.post("/admin/search/index/", selected | {"post": "yes"})
    assert response["Location"] == "/admin/search/index/tokens/"
    page = staff.get("/admin/search/index/tokens/").content
    new_tokens = [match.decode() for match in TOKEN.findall(page)]
    assert len(set(new_tokens)) == 2
    assert api("info", token=first.token).status_code == 401
    assert api("info", token=second.token).status_code == 401
    assert api("info", token=untouched.token).status_code == 200
    assert {api("info", token=t).json()["result"]["dimension"] for t in new_tokens} == {2}


def test_it_deletes_an_index_through_the_service(staff: Client, books) -> None:
    start_query(books)
    confirm = staff.get(f"/admin/search/index/{books.pk}/delete/")
    assert confirm.status_code == 200
    # A summary, not one line per vector.
    assert b"Index books: 17 vectors in 2 namespaces, 1 active resumable queries" in confirm.content
    assert b"doc-3" not in confirm.content
    name = books.hnsw_index_name
    response = staff.post(f"/admin/search/index/{books.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Index.objects.filter(pk=books.pk).exists()
    assert not hnsw_exists(name)


def test_it_deletes_selected_indexes_with_the_action(staff: Client, make_index) -> None:
    indexes = [make_index(f"gone-{i}", dimension=2).index for i in range(2)]
    selected = {"action": "delete_selected", "_selected_action": [index.pk for index in indexes]}
    confirm = staff.post("/admin/search/index/", selected | {"index": "0"})
    assert b"Index gone-0: 0 vectors in 1 namespaces" in confirm.content
    staff.post("/admin/search/index/", selected | {"post": "yes"})
    assert not Index.objects.exists()
    assert not any(hnsw_exists(index.hnsw_index_name) for index in indexes)
