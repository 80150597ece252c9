"""topK, additionalK and maxIdle are validated with errors that name the field."""

from __future__ import annotations

import pytest

from search.models import ResumableQuery


@pytest.fixture
def index(make_index):
    from search.services.records import RecordInput
    from search.services.vectors import vectors_upsert

    credentials = make_index(dimension=2)
    vectors_upsert(index=credentials.index, namespace="", records=[RecordInput(id="a", vector=[1.0, 0.0])])
    return credentials


START_CASES = [
    ({"topK": 0}, "topK: Ensure this value is greater than or equal to 1."),
    ({"topK": -3}, "topK: Ensure this value is greater than or equal to 1."),
    ({"topK": 1001}, "topK: Ensure this value is less than or equal to 1000."),
    ({"topK": "5"}, "topK: must be an integer"),
    ({"topK": 2.5}, "topK: must be an integer"),
    ({"topK": True}, "topK: must be an integer"),
    ({"maxIdle": 0}, "maxIdle: Ensure this value is greater than or equal to 1."),
    ({"maxIdle": -1}, "maxIdle: Ensure this value is greater than or equal to 1."),
    ({"maxIdle": 86401}, "maxIdle: Ensure this value is less than or equal to 86400."),
    ({"maxIdle": "60"}, "maxIdle: must be an integer"),
    ({"vector": [1, 2, 3]}, "vector: Invalid vector dimension: 3, expected: 2"),
    ({"filter": "i >"}, "filter: "),
]


@pytest.mark.parametrize(("change", "message"), START_CASES)
def test_it_refuses_a_bad_start(api, index, change, message):
    body = {"vector": [1, 0], "topK": 1, "maxIdle": 60, **change}
    response = api("resumable-query", body, token=index.token)
    assert response.status_code in (400, 422)
    assert response.json()["error"].startswith(message)
    assert response.json()["status"] == response.status_code
    assert ResumableQuery.objects.count() == 0


NEXT_CASES = [
    ({}, "uuid: This field is required."),
    ({"uuid": "not-a-uuid", "additionalK": 1}, "uuid: must be a resumable query handle (a UUID)"),
    ({"additionalK": 1}, "uuid: This field is required."),
    ({"uuid": "HANDLE"}, "additionalK: This field is required."),
    ({"uuid": "HANDLE", "additionalK": 0}, "additionalK: Ensure this value is greater than or equal to 1."),
    ({"uuid": "HANDLE", "additionalK": -1}, "additionalK: Ensure this value is greater than or equal to 1."),
    ({"uuid": "HANDLE", "additionalK": 1001}, "additionalK: Ensure this value is less than or equal to 1000."),
    ({"uuid": "HANDLE", "additionalK": "3"}, "additionalK: must be an integer"),
    ({"uuid": "HANDLE", "additionalK": None}, "additionalK: This field may not be null."),
]


@pytest.mark.parametrize(("body", "message"), NEXT_CASES)
def test_it_refuses_a_bad_next(api, index, body, message):
    started = api("resumable-query", {"vector": [1, 0], "topK": 1}, token=index.token).json()["result"]
    body = {key: (started["uuid"] if value == "HANDLE" else value) for key, value in body.items()}
    response = api("resumable-query-next", body, token=index.token)
    assert response.status_code == 400
    assert response.json() == {"error": message, "status": 400}
    query = ResumableQuery.objects.get(uuid=started["uuid"])
    assert query.returned_count == 1  # nothing was handed out


def test_it_uses_the_default_max_idle_of_an_hour(api, index):
    started = api("resumable-query", {"vector": [1, 0], "topK": 1}, token=index.token).json()["result"]
    assert ResumableQuery.objects.get(uuid=started["uuid"]).max_idle == 3600


def test_it_answers_an_unknown_handle_with_404(api, index):
    response = api(
        "resumable-query-next", {"uuid": "00000000-0000-4000-8000-000000000000", "additionalK": 1}, token=index.token
    )
    assert response.status_code == 404
    assert "does not exist" in response.json()["error"]
