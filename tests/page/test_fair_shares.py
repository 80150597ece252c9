"""The search page's fair shares (docs/api.md#fair-shares): its handles counted apart
from the API's, a cap per client address however many sessions it opens, and a rate
limit per client address."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from search.errors import TooManyActiveQueries
from search.models import Index, ResumableQuery
from search.services.resumable import resumable_query_start
from search.services.specs import QuerySpec

pytestmark = pytest.mark.django_db


def fresh_visitor(address: str = "127.0.0.1", **headers: Any) -> Client:
    """A browser that has just opened the page: a new session, as one that drops its
    cookies gets on every request."""
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address, **headers)
    client.get("/")
    return client


def post(client: Client, url: str, **data: Any) -> Any:
    return client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def api_start(index: Index) -> None:
    resumable_query_start(index=index, spec=QuerySpec(data="json", top_k=1))


def test_it_counts_the_pages_searches_apart_from_the_apis(demo_index: Index) -> None:
    Index.objects.filter(pk=demo_index.pk).update(max_active_queries=1)
    demo_index.refresh_from_db()
    api_start(demo_index)  # the API's one handle: its cap is full
    with pytest.raises(TooManyActiveQueries, match=r"already has 1 active resumable queries \(the limit is 1\)"):
        api_start(demo_index)

    searches = [post(fresh_visitor(), "/search/start", q=f"json {n}") for n in range(3)]

    assert [response.status_code for response in searches] == [200, 200, 200]
    assert sorted(ResumableQuery.objects.values_list("holder", flat=True))[-1] == "token:rw"
    assert ResumableQuery.objects.filter(holder__startswith="page:").count() == 3


def test_it_says_when_the_pages_searches_are_at_their_cap(demo_index: Index, settings) -> None:
    settings.VECSITE_PAGE_MAX_ACTIVE = 2
    assert post(fresh_visitor("10.0.0.1"), "/search/start", q="json").status_code == 200
    assert post(fresh_visitor("10.0.0.2"), "/search/start", q="json").status_code == 200

    response = post(fresh_visitor("10.0.0.3"), "/search/start", q="json")

    assert response.status_code == 429
    assert response.json()["message"].startswith("Too many searches are open")
    assert ResumableQuery.objects.count() == 2
    api_start(demo_index)  # the API's cap is its own


def test_it_caps_the_searches_of_one_address_however_many_sessions_it_opens(demo_index: Index, settings) -> None:
    settings.VECSITE_PAGE_MAX_ACTIVE_PER_ADDRESS = 2
    assert post(fresh_visitor(), "/search/start", q="json").status_code == 200
    assert post(fresh_visitor(), "/search/start", q="json").status_code == 200

    third = post(fresh_visitor(), "/search/start", q="json")
    spoofed = post(fresh_visitor(HTTP_X_FORWARDED_FOR="203.0.113.9"), "/search/start", q="json")

    for response in (third, spoofed):
        assert response.status_code == 429
        assert response.json()["message"].startswith("You have too many searches open")
    assert post(fresh_visitor("10.0.0.9"), "/search/start", q="json").status_code == 200
    assert ResumableQuery.objects.count() == 3


def test_it_limits_the_rate_of_one_addresss_page_requests(demo_index: Index, settings) -> None:
    settings.VECSITE_PAGE_RATE = "3/min"
    visitor = fresh_visitor()
    handle = post(visitor, "/search/start", q="json").json()["handle"]
    assert post(visitor, "/search/next", handle=handle).status_code == 200
    assert post(fresh_visitor(), "/search/start", q="json").status_code == 200

    limited = [
        post(visitor, "/search/next", handle=handle),
        post(fresh_visitor(), "/search/start", q="json"),
        post(fresh_visitor(HTTP_X_FORWARDED_FOR="203.0.113.9"), "/search/start", q="json"),
    ]

    for response in limited:
        assert response.status_code == 429
        assert response.json()["error"] == "rate_limited"
        assert response.json()["message"].startswith("Too many searches from your address; try again in")
        assert 1 <= int(response["Retry-After"]) <= 60
    assert ResumableQuery.objects.count() == 2
    assert post(fresh_visitor("10.0.0.9"), "/search/start", q="json").status_code == 200


def test_it_counts_the_address_a_trusted_proxy_saw(demo_index: Index, settings) -> None:
    settings.VECSITE_PAGE_RATE = "1/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    first = post(fresh_visitor(HTTP_X_FORWARDED_FOR="203.0.113.1"), "/search/start", q="json")
    second = post(fresh_visitor(HTTP_X_FORWARDED_FOR="203.0.113.2"), "/search/start", q="json")
    again = post(fresh_visitor(HTTP_X_FORWARDED_FOR="203.0.113.1"), "/search/start", q="json")

    assert (first.status_code, second.status_code, again.status_code) == (200, 200, 429)
