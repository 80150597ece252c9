"""Whatever JSON a client sends to any command, the answer is never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.models import ResumableQuery, Vector
from search.services.records import RecordInput
from search.services.vectors import vectors_upsert

COMMANDS = [
    "upsert",
    "upsert-data",
    "query",
    "query-data",
    "resumable-query",
    "resumable-query-data",
    "resumable-query-next",
    "resumable-query-end",
    "fetch",
    "delete",
    "range",
    "update",
    "reset",
    "info",
    "list-namespaces",
    "delete-namespace/ns",
]
FIELDS = [
    "id",
    "vector",
    "sparseVector",
    "metadata",
    "data",
    "topK",
    "filter",
    "includeVectors",
    "includeMetadata",
    "includeData",
    "maxIdle",
    "uuid",
    "additionalK",
    "ids",
    "prefix",
    "cursor",
    "limit",
    "metadataUpdateMode",
    "weightingStrategy",
    "fusionAlgorithm",
    "queryMode",
    "indices",
    "values",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", "a = 1", "COSINE", "PATCH", "IDF", "RRF", "DBSF", "00000000-0000-4000-8000-000000000000"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), children, max_size=6),
    max_leaves=20,
)
bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8),
    st.lists(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6), max_size=3),
)


@pytest.fixture
def index(make_index):
    credentials = make_index(dimension=2)
    vectors_upsert(
        index=credentials.index, namespace="", records=[RecordInput(id="a", vector=[1.0, 0.5], metadata={"a": 1})]
    )
    return credentials


@pytest.mark.parametrize("command", COMMANDS)
def test_it_never_answers_a_500(api, index, command):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=bodies)
    def check(body):
        response = api(command, raw=json.dumps(body), token=index.token)
        assert response.status_code < 500, (command, body, response.content[:300])
        payload = response.json()
        assert ("result" in payload) != ("error" in payload)

    check()
    assert Vector.objects.filter(index=index.index).count() >= 0
    assert ResumableQuery.objects.count() <= index.index.max_active_queries


def test_it_explains_a_malformed_sparse_vector(api, index):
    response = api("query", {"sparseVector": []}, token=index.token)
    assert response.status_code == 400
    assert response.json()["error"] == 'sparseVector: must be {"indices": [int, ...], "values": [number, ...]}'
