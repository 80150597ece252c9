"""Defects found by trying the API as an attacker and as a careless client would (issue 12):
each answer is the error envelope naming the field, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from search.models import ResumableQuery, Vector
from tests.api.test_bad_input import assert_error, index, shared_index, snapshot

__all__ = ["index", "shared_index"]  # fixtures, used by name

LITERAL_ESCAPE = "\\u0000"  # six characters: a backslash, u and four zeros


def stored_metadata(index, key="keep", namespace=""):
    return Vector.objects.get(index=index.index, namespace__name=namespace, key=key).metadata


def test_it_refuses_metadata_nested_past_the_depth_setting(api, index, settings):
    settings.VECSITE_MAX_METADATA_DEPTH = 4
    before = snapshot()

    deep = api("upsert", [{"id": "a", "vector": [1, 2], "metadata": {"a": [[{"b": [1]}]]}}], token=index.token)
    deep_update = api("update", {"id": "keep", "metadata": {"a": {"b": {"c": {"d": {}}}}}}, token=index.token)

    assert_error(deep, 400, "[0].metadata: must not be nested more than 4 levels deep")
    assert_error(deep_update, 400, "metadata: must not be nested more than 4 levels deep")
    assert snapshot() == before
    # Four levels, lists counted, are within it.
    fits = {"a": [[{"b": 1}]]}
    assert api("update", {"id": "keep", "metadata": fits}, token=index.token).json() == {"result": {"updated": 1}}


def test_it_stores_the_literal_text_of_a_nul_escape_but_refuses_a_real_nul(api, index):
    metadata = {"path": f"C:{LITERAL_ESCAPE}dir", LITERAL_ESCAPE: [LITERAL_ESCAPE]}
    raw = json.dumps([{"id": "escaped", "vector": [1, 2], "metadata": metadata}])
    assert "\\\\u0000" in raw  # the JSON escapes the backslash: no NUL is sent

    assert api("upsert", raw=raw, token=index.token).json() == {"result": "Success"}
    assert stored_metadata(index, "escaped") == metadata
    fetched = api("fetch", {"ids": ["escaped"], "includeMetadata": True}, token=index.token).json()
    assert fetched == {"result": [{"id": "escaped", "metadata": metadata}]}

    before = snapshot()
    real = api("upsert", raw='[{"id": "nul", "vector": [1, 2], "metadata": {"k": "a\\u0000b"}}]', token=index.token)
    assert_error(real, 400, "[0].metadata: must not contain NUL characters")
    assert snapshot() == before


def test_it_checks_the_metadata_cap_on_the_merged_result_of_a_patch(api, index, settings):
    settings.VECSITE_MAX_METADATA_BYTES = 200
    patch = {"metadataUpdateMode": "PATCH", "id": "keep"}
    first = api("update", {**patch, "metadata": {"a": "x" * 80}}, token=index.token)
    assert first.json() == {"result": {"updated": 1}}
    grown = stored_metadata(index)
    before = snapshot()

    # Each patch alone is well within the cap; the record would outgrow it.
    second = api("update", {**patch, "metadata": {"b": "y" * 80}}, token=index.token)
    third = api("update", {**patch, "metadata": {"c": "z" * 80}}, token=index.token)

    assert second.json() == {"result": {"updated": 1}}
    assert_error(third, 400, "metadata: merged into the stored metadata, must be at most 200 bytes as JSON")
    assert stored_metadata(index) == {**grown, "b": "y" * 80}
    assert snapshot() != before  # the second patch was written, the third not
    # A patch that removes as much as it adds still fits.
    swap = api("update", {**patch, "metadata": {"a": None, "c": "z" * 80}}, token=index.token)
    assert swap.json() == {"result": {"updated": 1}}
    assert stored_metadata(index) == {"m": 1, "b": "y" * 80, "c": "z" * 80}


@pytest.mark.parametrize("query", ["?all=false", "?all=0", "?all=False"])
def test_it_resets_only_the_namespace_when_all_is_false(api, index, query):
    assert api(f"reset{query}", token=index.token).json() == {"result": "Success"}
    assert api(f"reset/books{query}", token=index.token).json() == {"result": "Success"}

    assert not Vector.objects.filter(index=index.index).exists()
    api("upsert/books", [{"id": "back", "vector": [1, 2]}], token=index.token)
    assert api(f"reset{query}", token=index.token).json() == {"result": "Success"}
    assert list(Vector.objects.filter(index=index.index).values_list("key", flat=True)) == ["back"]


@pytest.mark.parametrize("query", ["?all", "?all=true", "?all=1", "?all=TRUE"])
def test_it_resets_every_namespace_when_all_is_true(api, index, query):
    assert api(f"reset{query}", token=index.token).json() == {"result": "Success"}
    assert not Vector.objects.filter(index=index.index).exists()


def test_it_leaves_no_handle_when_a_resumable_start_fails_after_creating_it(api, live_index):
    """A failure between the handle's insert and its first hand-out (a trigger the test
    adds, which fails the first page's INSERT) rolls the handle back with everything else."""
    live = live_index(max_active_queries=1)
    api("upsert", [{"id": f"v{n}", "vector": [1, n + 1]} for n in range(5)], token=live.token)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION fail_hand_out() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;"
            "CREATE TRIGGER fail_hand_out BEFORE INSERT ON search_handedout "
            "FOR EACH ROW EXECUTE FUNCTION fail_hand_out()"
        )
    try:
        failed = api("resumable-query", {"vector": [1, 1], "topK": 2}, token=live.token)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER fail_hand_out ON search_handedout; DROP FUNCTION fail_hand_out()")

    assert_error(failed, 500, "internal server error")
    assert not ResumableQuery.objects.exists()
    # The cap of one is free: the next start gets it.
    started = api("resumable-query", {"vector": [1, 1], "topK": 2}, token=live.token)
    assert [hit["id"] for hit in started.json()["result"]["scores"]] == ["v0", "v1"]
    assert ResumableQuery.objects.count() == 1
