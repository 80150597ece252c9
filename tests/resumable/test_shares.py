"""Fair shares of an index's resumable queries among its tokens, and the maxIdle ceiling
(docs/api.md#fair-shares)."""

from __future__ import annotations

import pytest

from search.models import ResumableQuery

START = {"vector": [1, 1], "topK": 1}


@pytest.fixture
def credentials(make_index, api):
    credentials = make_index(max_active_queries=5)
    api("upsert", [{"id": f"v{n}", "vector": [1, n + 1]} for n in range(3)], token=credentials.token)
    return credentials


def start(api, token, **body):
    return api("resumable-query", {**START, **body}, token=token)


def assert_error(response, status, message):
    assert (response.status_code, response.json()) == (status, {"error": message, "status": status})


def test_it_keeps_part_of_the_cap_for_the_other_token(api, credentials):
    # A share of 0.8 of a cap of 5: one token may hold 4.
    for _ in range(4):
        assert start(api, credentials.token).status_code == 200

    refused = start(api, credentials.token)
    other = start(api, credentials.readonly_token)
    full = start(api, credentials.readonly_token)

    assert_error(
        refused,
        429,
        "this token already holds 4 of this index's active resumable queries, its share of the 5 allowed "
        "(VECSITE_RESUMABLE_TOKEN_SHARE); stop some with resumable-query-end or let them expire",
    )
    assert other.status_code == 200
    assert_error(
        full,
        429,
        "this index already has 5 active resumable queries (the limit is 5); "
        "stop some with resumable-query-end or let them expire",
    )
    assert sorted(ResumableQuery.objects.values_list("holder", flat=True)) == ["token:ro"] + ["token:rw"] * 4


def test_it_lets_one_token_take_the_whole_cap_with_a_share_of_one(api, credentials, settings):
    settings.VECSITE_RESUMABLE_TOKEN_SHARE = 1.0
    assert [start(api, credentials.token).status_code for _ in range(6)] == [200] * 5 + [429]


def test_it_frees_a_tokens_share_when_a_handle_ends(api, credentials, settings):
    settings.VECSITE_RESUMABLE_TOKEN_SHARE = 0.2  # one handle of five
    first = start(api, credentials.token).json()["result"]["uuid"]
    assert start(api, credentials.token).status_code == 429

    assert api("resumable-query-end", {"uuid": first}, token=credentials.token).status_code == 200
    assert start(api, credentials.token).status_code == 200


def test_it_holds_max_idle_to_the_ceiling_setting(api, credentials, settings):
    settings.VECSITE_RESUMABLE_MAX_MAX_IDLE = 600

    over = start(api, credentials.token, maxIdle=601)
    at = start(api, credentials.token, maxIdle=600)
    default = start(api, credentials.token)  # the default of 3,600 is held to the ceiling too

    assert_error(over, 400, "maxIdle: Ensure this value is less than or equal to 600.")
    assert at.status_code == default.status_code == 200
    assert list(ResumableQuery.objects.values_list("max_idle", flat=True)) == [600, 600]
