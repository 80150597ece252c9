"""`make run`'s server as a user runs it: DEBUG off unless asked, static files served,
and the API's JSON envelope on every /v1 answer in both modes (docs/api.md#error-envelope)."""

from __future__ import annotations

import pytest
from django.db import connection

from search.models import Vector
from tests.serving.server import serving

NO_ROUTE = {"error": "no such command or route", "status": 404}
MIS_SHAPED = ["x", "info/", "info/n1", "resumable-query-next/n1", "/upsert", "upsert/", "v2/upsert"]


@pytest.fixture(scope="module", params=["default", "DEBUG=1"])
def server(request, test_database_url, tmp_path_factory):
    environment = {"DEBUG": "1"} if request.param == "DEBUG=1" else {}
    with serving(test_database_url, tmp_path_factory.mktemp("serve") / "serve.log", **environment) as server:
        yield server


def assert_envelope(response, status, message):
    assert response.headers["content-type"] == "application/json", response.text[:300]
    assert (response.status_code, response.json()) == (status, {"error": message, "status": status})


def test_it_answers_the_envelope_on_every_mis_shaped_route(server, credentials):
    auth = {"Authorization": f"Bearer {credentials.token}"}
    with server.client(headers=auth) as http:
        for path in MIS_SHAPED:
            assert_envelope(http.post(f"/v1/{path}", json={}), 404, NO_ROUTE["error"])
        assert_envelope(http.post("/v1"), 404, NO_ROUTE["error"])
        newline = http.post("/v1/upsert/a%0Ab", json=[{"id": "a", "vector": [1, 2]}])
        assert_envelope(newline, 400, "namespace: control characters are not allowed")
        assert_envelope(http.patch("/v1/reset"), 405, 'Method "PATCH" not allowed.')
        assert_envelope(http.post("/v1/info", headers={"Host": "evil.example"}), 400, "bad request")
    assert not Vector.objects.exists()


def test_it_answers_an_internal_error_with_the_envelope(server, credentials):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;"
            "CREATE TRIGGER fail_insert BEFORE INSERT ON search_vector FOR EACH ROW EXECUTE FUNCTION fail_insert()"
        )
    try:
        with server.client(headers={"Authorization": f"Bearer {credentials.token}"}) as http:
            response = http.post("/v1/upsert", json=[{"id": "a", "vector": [1, 2]}])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER fail_insert ON search_vector; DROP FUNCTION fail_insert()")
    assert_envelope(response, 500, "internal server error")
    assert "injected failure" not in response.text


def test_it_refuses_deeply_nested_metadata_with_a_400(server, credentials):
    def nested(depth):
        return '{"a": ' * depth + "{}" + "}" * depth

    with server.client(headers={"Authorization": f"Bearer {credentials.token}"}) as http:
        assert http.post("/v1/upsert", json=[{"id": "a", "vector": [1, 2]}]).json() == {"result": "Success"}
        upsert = http.post("/v1/upsert", content=f'[{{"id": "b", "vector": [1, 2], "metadata": {nested(500)}}}]')
        update = http.post("/v1/update", content=f'{{"id": "a", "metadata": {nested(500)}}}')
        # About 930 levels gave a 500 once. How deep the JSON parser itself goes depends on
        # the stack below it, so either refusal may come first; neither is a 500.
        deepest = [
            http.post("/v1/upsert", content=f'[{{"id": "b", "vector": [1, 2], "metadata": {nested(depth)}}}]')
            for depth in (920, 930, 935, 990)
        ]
    assert_envelope(upsert, 400, "[0].metadata: must not be nested more than 64 levels deep")
    assert_envelope(update, 400, "metadata: must not be nested more than 64 levels deep")
    for response in deepest:
        assert response.json()["error"] in {
            "[0].metadata: must not be nested more than 64 levels deep",
            "body: malformed JSON (JSON parse error - nested too deeply)",
        }
        assert response.status_code == 400
    assert list(Vector.objects.values_list("key", "metadata")) == [("a", None)]


def test_it_serves_the_page_and_static_files(server, db):
    with server.client() as http:
        page = http.get("/")
        assert page.status_code == 200 and "search/search.js" in page.text
        for path in ("/static/search/search.js", "/static/search/search.css", "/static/admin/css/base.css"):
            assert http.get(path).status_code == 200, path


def test_it_shows_debug_pages_only_when_asked(server, db):
    with server.client() as http:
        missing = http.get("/no-such-page")
    assert missing.status_code == 404
    # Django's debug 404 lists the URL patterns; the plain one does not.
    assert ("URLconf" in missing.text) == server.debug
