"""The search page and its JSON endpoints, through Django's test client with CSRF checks on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from search.models import Index, ResumableQuery
from search.views import SESSION_MAX_HANDLES

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, **data: Any) -> Any:
    token = client.cookies["csrftoken"].value
    return client.post(url, {**data, "csrfmiddlewaretoken": token})


def start(client: Client, q: str = "encode python objects as JSON text", filter: str = "") -> dict[str, Any]:
    response = post(client, "/search/start", q=q, filter=filter)
    assert response.status_code == 200, response.content
    return response.json()


def test_it_renders_the_page_with_its_accessibility_attributes(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<input type="search" name="q" id="id_q"' in html
    assert '<label for="id_q">Search</label>' in html
    assert 'aria-describedby="filter-help filter-error"' in html
    assert '<p id="filter-error" class="field-error"></p>' in html
    assert 'role="status" aria-live="polite"' in html
    assert '<button type="button" id="load-more" hidden>Load more</button>' in html
    assert 'role="search"' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "search/search.js" in html
    assert "csrftoken" in response.cookies


def test_it_enforces_csrf_on_the_json_endpoints(demo_index: Index, visitor: Client) -> None:
    handle = start(visitor)["handle"]
    for url, data in (
        ("/search/start", {"q": "json"}),
        ("/search/next", {"handle": handle}),
        ("/search/end", {"handle": handle}),
    ):
        response = visitor.post(url, data)  # the session cookie, but no token
        assert response.status_code == 403, url
    assert ResumableQuery.objects.filter(uuid=handle).exists()


def test_it_only_answers_posts(client: Client) -> None:
    assert client.get("/search/start").status_code == 405
    assert client.get("/search/next").status_code == 405


def test_it_starts_a_search_and_continues_it(demo_index: Index, visitor: Client) -> None:
    first = start(visitor)
    assert [r["rank"] for r in first["results"]] == list(range(1, 11))
    assert first["shown"] == 10 and first["done"] is False
    assert first["results"][0]["id"].startswith("stdlib:json")
    assert set(first["results"][0]) == {"rank", "id", "score", "title", "text", "metadata"}
    assert first["results"][0]["title"] == first["results"][0]["metadata"]["qualname"]
    assert not first["results"][0]["text"].startswith(first["results"][0]["title"])
    second = post(visitor, "/search/next", handle=first["handle"]).json()
    assert [r["rank"] for r in second["results"]] == list(range(11, 21))
    assert second["shown"] == 20
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert len(set(ids)) == 20
    scores = [r["score"] for r in first["results"] + second["results"]]
    assert scores == sorted(scores, reverse=True)
    query = ResumableQuery.objects.get(uuid=first["handle"])
    assert query.kind == ResumableQuery.Kind.TEXT
    assert query.query_text == "encode python objects as JSON text"


def test_it_keeps_one_session_out_of_anothers_search(demo_index: Index, visitor: Client) -> None:
    handle = start(visitor)["handle"]
    other = Client(enforce_csrf_checks=True)
    other.get("/")
    for url in ("/search/next", "/search/end"):
        response = post(other, url, handle=handle)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert ResumableQuery.objects.get(uuid=handle).returned_count == 10
    assert post(visitor, "/search/next", handle=handle).status_code == 200


def test_it_names_the_field_and_position_of_a_bad_filter(demo_index: Index, visitor: Client) -> None:
    response = post(visitor, "/search/start", q="json", filter="kind = function")
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"filter"}
    assert body["errors"]["filter"].startswith("Unexpected token 'function' at position 7")
    assert not ResumableQuery.objects.exists()


def test_it_gives_400_with_the_field_for_bad_input(demo_index: Index, visitor: Client) -> None:
    empty = post(visitor, "/search/start", q="   ", filter="")
    assert empty.status_code == 400
    assert empty.json()["errors"] == {"q": "Type something to search for."}
    too_long = post(visitor, "/search/start", q="x" * 501)
    assert too_long.status_code == 400 and "q" in too_long.json()["errors"]
    for url in ("/search/next", "/search/end"):
        response = post(visitor, url, handle="not-a-uuid")
        assert response.status_code == 400
        assert response.json()["errors"] == {"handle": "Not a search handle."}


def test_it_says_when_a_search_has_expired(demo_index: Index, visitor: Client) -> None:
    handle = start(visitor)["handle"]
    ResumableQuery.objects.filter(uuid=handle).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post(visitor, "/search/next", handle=handle)
    assert response.status_code == 410
    assert response.json()["error"] == "expired"
    assert "expired" in response.json()["message"]
    # The session has let it go: asking again is now "not yours".
    assert post(visitor, "/search/next", handle=handle).status_code == 404


def test_it_stops_the_search_when_the_results_run_out(demo_index: Index, visitor: Client) -> None:
    matching = demo_index.namespaces.get(name="").vectors.filter(metadata__module="json").count()
    assert 10 < matching < 20
    first = start(visitor, q="json", filter="module = 'json'")
    assert first["done"] is False
    last = post(visitor, "/search/next", handle=first["handle"]).json()
    assert last["done"] is True and last["handle"] is None
    assert last["shown"] == matching == len(first["results"]) + len(last["results"])
    assert not ResumableQuery.objects.exists()


def test_it_stops_at_once_a_search_with_a_single_batch(demo_index: Index, visitor: Client) -> None:
    batch = start(visitor, q="json", filter="kind = 'module'")
    assert batch["done"] is True and batch["handle"] is None
    assert 0 < batch["shown"] < 10
    assert {r["metadata"]["kind"] for r in batch["results"]} == {"module"}
    assert not ResumableQuery.objects.exists()


def test_it_stops_a_search_on_request(demo_index: Index, visitor: Client) -> None:
    handle = start(visitor)["handle"]
    response = post(visitor, "/search/end", handle=handle)
    assert response.status_code == 204
    assert not ResumableQuery.objects.exists()
    assert post(visitor, "/search/end", handle=handle).status_code == 404


def test_it_stops_a_sessions_oldest_search_past_its_share(demo_index: Index, visitor: Client) -> None:
    handles = [start(visitor, q=f"json {n}")["handle"] for n in range(SESSION_MAX_HANDLES + 1)]
    remaining = {str(uuid) for uuid in ResumableQuery.objects.values_list("uuid", flat=True)}
    assert remaining == set(handles[1:])
    assert post(visitor, "/search/next", handle=handles[0]).status_code == 404


def test_it_says_search_is_unavailable_without_a_demo_index(db: None, visitor: Client) -> None:
    response = post(visitor, "/search/start", q="json")
    assert response.status_code == 503
    assert "load_demo" in response.json()["message"]


def test_it_says_search_is_unavailable_on_a_demo_index_without_a_model(make_index: Any, visitor: Client) -> None:
    make_index("demo", dimension=384)
    response = post(visitor, "/search/start", q="json")
    assert response.status_code == 503
    assert "ensure_demo --recreate" in response.json()["message"]
