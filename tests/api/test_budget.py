"""The work budget (docs/api.md#limits): a query request asking for more results, or an
answer larger, than one request may is a 400 naming the field, and a query over the budget
is refused before any search runs."""

from __future__ import annotations

from tests.api.test_bad_input import assert_error, index, shared_index

__all__ = ["index", "shared_index"]  # fixtures, used by name


def test_it_refuses_a_batch_asking_for_more_results_than_the_budget_before_searching(
    api, index, django_assert_max_num_queries
):
    batch = [{"vector": [1, 2], "topK": 1000}] * 11

    with django_assert_max_num_queries(1):  # the token's lookup, and no search
        response = api("query", batch, token=index.token)

    assert_error(
        response,
        400,
        "topK: the 11 queries ask for 11,000 results in all, more than the 10,000 one request may "
        "(VECSITE_MAX_QUERY_RESULTS); ask for fewer at a time",
    )
    assert api("query", batch[:10], token=index.token).status_code == 200


def test_it_holds_one_query_and_a_resumable_start_to_a_lowered_budget(api, index, settings):
    settings.VECSITE_MAX_QUERY_RESULTS = 5
    message = "topK: 6, more than the 5 one request may (VECSITE_MAX_QUERY_RESULTS); ask for fewer at a time"

    for command in ("query", "resumable-query"):
        assert_error(api(command, {"vector": [1, 2], "topK": 6}, token=index.token), 400, message)
        assert api(command, {"vector": [1, 2], "topK": 5}, token=index.token).status_code == 200
    assert_error(
        api("query", [{"vector": [1, 2], "topK": 3}] * 2, token=index.token),
        400,
        "topK: the 2 queries ask for 6 results in all, more than the 5 one request may "
        "(VECSITE_MAX_QUERY_RESULTS); ask for fewer at a time",
    )


def test_it_refuses_a_query_whose_vectors_would_make_the_answer_too_large(api, index, settings):
    settings.VECSITE_MAX_RESPONSE_BYTES = 1024  # a record with a 2-dimensional vector is reckoned 88 bytes

    response = api("query", {"vector": [1, 2], "topK": 12, "includeVectors": True}, token=index.token)

    assert_error(
        response,
        400,
        "includeVectors: the answer would be about 1,056 bytes, more than the 1,024 one response may hold "
        "(VECSITE_MAX_RESPONSE_BYTES); ask for fewer results or leave out includeVectors",
    )
    assert api("query", {"vector": [1, 2], "topK": 12}, token=index.token).status_code == 200


def test_it_refuses_reads_whose_data_would_make_the_answer_too_large(api, index, settings):
    api("upsert", [{"id": f"big{n}", "vector": [1, 2], "data": "x" * 600} for n in range(2)], token=index.token)
    settings.VECSITE_MAX_RESPONSE_BYTES = 1024
    message = (
        "includeData: the answer would be about 1,328 bytes, more than the 1,024 one response may hold "
        "(VECSITE_MAX_RESPONSE_BYTES); ask for fewer results or leave out includeData"
    )

    fetch = api("fetch", {"ids": ["big0", "big1"], "includeData": True}, token=index.token)
    ranged = api("range", {"prefix": "big", "limit": 2, "includeData": True}, token=index.token)
    queried = api(
        "query", {"vector": [1, 2], "topK": 3, "includeData": True, "filter": "HAS NOT FIELD m"}, token=index.token
    )

    for response in (fetch, ranged, queried):
        assert_error(response, 400, message)
    assert api("fetch", {"ids": ["big0", "big1"]}, token=index.token).status_code == 200
    assert api("fetch", {"ids": ["big0"], "includeData": True}, token=index.token).status_code == 200
