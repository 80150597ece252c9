"""Database outages, for real: `manage.py serve` reaches the test database through a proxy
the test takes down (docs/api.md#outages). While it is down every answer is a 503 with
Retry-After, in bounded time and without a traceback; once it is back the same process
serves again, and what it acknowledged before is still there."""

from __future__ import annotations

import time

import httpx
import pytest
from django.db import connection, transaction

from search.models import Namespace, Vector
from tests.serving.proxy import proxying
from tests.serving.server import serving

CONNECT_TIMEOUT = 2
STATEMENT_TIMEOUT = 1
DOWN = {"error": "database unavailable", "status": 503}


@pytest.fixture(scope="module")
def proxy(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        params = connection.get_connection_params()
    with proxying(params) as proxy:
        yield proxy


@pytest.fixture(scope="module", params=["default", "DEBUG=1"])
def server(request, proxy, tmp_path_factory):
    environment = {
        "VECSITE_DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "VECSITE_DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "VECSITE_RETRY_AFTER": "7",
        **({"DEBUG": "1"} if request.param == "DEBUG=1" else {}),
    }
    with serving(proxy.url, tmp_path_factory.mktemp("serve") / "serve.log", **environment) as server:
        yield server


@pytest.fixture
def http(server, credentials):
    with server.client(headers={"Authorization": f"Bearer {credentials.token}"}) as client:
        yield client


@pytest.fixture
def visitor(server):
    """A browser that has opened the search page: it holds a CSRF cookie."""
    with server.client() as client:
        assert client.get("/").status_code == 200
        yield client


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def every_kind_of_request(http, visitor):
    """One request of each kind: API reads and writes, the health check, the search
    page's endpoint, the admin's login."""
    token = visitor.cookies["csrftoken"]
    return {
        "info": lambda: http.post("/v1/info"),
        "upsert": lambda: http.post("/v1/upsert", json=[{"id": "during", "vector": [1, 2]}]),
        "query": lambda: http.post("/v1/query", json={"vector": [1, 2], "topK": 1}),
        "resumable-query": lambda: http.post("/v1/resumable-query", json={"vector": [1, 2]}),
        "healthz": lambda: visitor.get("/healthz"),
        "search/start": lambda: visitor.post("/search/start", data={"q": "json", "csrfmiddlewaretoken": token}),
        "admin": lambda: visitor.post(
            "/admin/login/", data={"username": "staff", "password": "secret", "csrfmiddlewaretoken": token}
        ),
    }


def assert_unavailable(name, timing, bound):
    response, elapsed = timing
    assert response.status_code == 503, (name, response.text[:300])
    assert response.headers["retry-after"] == "7", name
    assert elapsed < bound, (name, elapsed)
    assert "Traceback" not in response.text and "psycopg" not in response.text and "socket" not in response.text
    if name == "search/start":
        assert response.json()["error"] == "unavailable"
    elif name == "admin":
        assert response.headers["content-type"].startswith("text/plain")
        assert "database unavailable" in response.text
    else:
        assert response.json() == DOWN, name


def wait_until_healthy(client, timeout=30.0):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if client.get("/healthz").status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not serve again")


def test_it_answers_503_while_the_database_is_down_and_serves_again_once_it_is_back(
    server, proxy, http, visitor, credentials
):
    assert http.post("/v1/upsert", json=[{"id": "before", "vector": [1, 2]}]).json() == {"result": "Success"}

    proxy.stop()
    try:
        for name, call in every_kind_of_request(http, visitor).items():
            assert_unavailable(name, timed(call), bound=5)
    finally:
        proxy.resume()

    recovered = wait_until_healthy(visitor)
    assert recovered < 10
    assert http.post("/v1/upsert", json=[{"id": "after", "vector": [2, 1]}]).json() == {"result": "Success"}
    assert http.post("/v1/info").json()["result"]["vectorCount"] == 2
    assert sorted(Vector.objects.values_list("key", flat=True)) == ["after", "before"]
    # The same worker served throughout: nothing restarted it.
    assert server.log.read_text().count("Booting worker") == 1


def test_it_gives_up_on_a_silent_database_within_the_connect_timeout(server, proxy, http, visitor, credentials):
    assert http.post("/v1/info").status_code == 200

    proxy.blackhole()  # connections are accepted and never answered
    try:
        for name, call in every_kind_of_request(http, visitor).items():
            if name in {"info", "healthz", "search/start", "admin"}:  # each waits out the timeout
                assert_unavailable(name, timed(call), bound=CONNECT_TIMEOUT + 4)
    finally:
        proxy.resume()

    wait_until_healthy(visitor)
    assert http.post("/v1/info").status_code == 200


def test_it_cancels_a_statement_past_the_timeout_with_a_503(server, http, credentials):
    assert http.post("/v1/upsert/held", json=[{"id": "a", "vector": [1, 2]}]).json() == {"result": "Success"}

    with transaction.atomic():
        # This test's transaction holds the namespace's row lock: the upsert waits on it.
        Namespace.objects.select_for_update().get(index=credentials.index, name="held")
        response, elapsed = timed(lambda: http.post("/v1/upsert/held", json=[{"id": "b", "vector": [1, 2]}]))

    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    assert response.json() == {
        "error": "the request ran past the database's statement timeout of 1 s; try again, or ask for less",
        "status": 503,
    }
    assert STATEMENT_TIMEOUT <= elapsed < STATEMENT_TIMEOUT + 4
    assert list(Vector.objects.values_list("key", flat=True)) == ["a"]
    assert http.post("/v1/upsert/held", json=[{"id": "b", "vector": [1, 2]}]).json() == {"result": "Success"}
