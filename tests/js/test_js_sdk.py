"""The official JavaScript SDK (@upstash/vector, pinned in tests/js/package-lock.json and
installed by `make test` with npm ci) run by Node against the live server.

Where the SDK's own tests state what the hosted service answers, the same figures are
asserted here (docs/api.md#conformance)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SDK = HERE / "node_modules" / "@upstash" / "vector" / "package.json"


def run(live, scenario: str):
    """Run one scenario of scenarios.mjs against `live`; its printed JSON value."""
    node = shutil.which("node")
    assert node, "Node is required for the JavaScript SDK tests"
    assert SDK.exists(), "the JavaScript SDK is not installed: run `make install-js` (make test does)"
    env = {**os.environ, "VECSITE_URL": live.url, "VECSITE_TOKEN": live.token, "UPSTASH_DISABLE_TELEMETRY": "1"}
    done = subprocess.run(
        [node, str(HERE / "scenarios.mjs"), scenario], cwd=HERE, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_it_runs_the_pinned_sdk():
    assert json.loads(SDK.read_text())["version"] == "1.2.3"


def test_it_gives_a_working_handle_for_a_resumable_query_on_a_missing_namespace(live_index):
    out = run(live_index(), "missingNamespaceResumable")

    assert out["result"] == []
    assert out["next"] == []
    assert out["stopped"] == "Success"
    # The SDK itself refuses a handle it has stopped, as against the hosted service.
    assert out["afterStop"] == {
        "thrown": "The resumable query has already been stopped. Please start another resumable query."
    }
    assert out["namespaces"] == [""]


def test_it_fuses_the_sdk_hybrid_resumable_example_digit_for_digit(live_index):
    out = run(live_index(dimension=2, index_type="HYBRID"), "hybridResumableDbsf")

    assert out["result"] == [
        {
            "id": "id2",
            "score": 0.617851,
            "vector": [0.3, 0.4],
            "sparseVector": {"indices": [2, 3], "values": [0.3, 0.4]},
            "metadata": {"key": "value"},
            "data": "data",
        },
        {"id": "id0", "score": 0.5, "vector": [0.1, 0.2], "sparseVector": {"indices": [0, 1], "values": [0.1, 0.2]}},
    ]
    assert out["next"] == [
        {
            "id": "id1",
            "score": 0.5,
            "vector": [0.2, 0.3],
            "sparseVector": {"indices": [1, 2], "values": [0.2, 0.3]},
            "metadata": {"key": "value"},
        }
    ]


def test_it_weights_the_sdk_sparse_resumable_example_digit_for_digit(live_index):
    out = run(live_index(dimension=None, index_type="SPARSE"), "sparseResumableIdf")

    assert out["result"] == [
        {"id": "id0", "score": 0.028608438, "sparseVector": {"indices": [0, 1], "values": [0.1, 0.2]}}
    ]
    assert out["next"] == [
        {
            "id": "id1",
            "score": 0.018800145,
            "sparseVector": {"indices": [1, 2], "values": [0.2, 0.3]},
            "metadata": {"key": "value"},
        }
    ]


def test_it_answers_the_sdk_hybrid_batch_example_digit_for_digit(live_index):
    out = run(live_index(dimension=2, index_type="HYBRID"), "hybridQueryMany")

    assert out == [
        [{"id": "id2", "score": 0.033333335}],
        [
            {
                "id": "id0",
                "score": 0.032795697,
                "vector": [0.1, 0.2],
                "sparseVector": {"indices": [0, 1], "values": [0.1, 0.2]},
            }
        ],
        [{"id": "id2", "score": 0.26666638, "metadata": {"key": "value"}}],
    ]


def test_it_answers_a_batch_of_one_query_with_a_flat_list(live_index):
    out = run(live_index(), "queryManyOfOne")

    assert out["raw"] == [{"id": "a", "score": 1}, {"id": "b", "score": 0.98}]
    assert out["many"] == [out["raw"]]  # the SDK nests the flat answer, as for the hosted one


def test_it_pages_a_fresh_namespace_by_fives_like_the_sdk_test(live_index):
    out = run(live_index(), "rangeCursors")

    assert out["cursors"] == ["5", "10", "17", "", "5"]
    assert out["ids"] == [
        [f"id-{i}" for i in range(5)],
        [f"id-{i}" for i in range(5, 10)],
        [f"id-{i}" for i in (12, 13, 14, 15, 16)],  # id-10 and id-11 deleted between pages
        [f"id-{i}" for i in (17, 18, 19)],
    ]
    assert out["unicode"] == {"thrown": "cursor: must be a cursor returned by an earlier range call"}


def test_it_merges_repeated_sparse_indices(live_index):
    out = run(live_index(dimension=None, index_type="SPARSE"), "repeatedSparseIndices")

    assert out["fetched"] == {"id": "t", "sparseVector": {"indices": [3, 7, 9], "values": [2, 0.75, 2]}}
    # The query {3: 0.5, 7: 2}: t scores 2·0.5 + 0.75·2 = 2.5, u 1·0.5.
    assert out["hits"] == [{"id": "t", "score": 2.5}, {"id": "u", "score": 0.5}]
    assert out["resumable"] == [{"id": "t", "score": 4}]
    assert out["updated"] == {"updated": 1}
    assert out["after"] == {"id": "u", "sparseVector": {"indices": [5], "values": [3]}}


@pytest.mark.parametrize(
    ("kind", "dense", "sparse"),
    [
        ("DENSE", {"dimension": 2, "similarityFunction": "COSINE", "embeddingModel": ""}, None),
        ("SPARSE", None, {"embeddingModel": ""}),
        ("HYBRID", {"dimension": 2, "similarityFunction": "COSINE", "embeddingModel": ""}, {"embeddingModel": ""}),
    ],
)
def test_it_reports_the_index_type_and_its_models(live_index, kind, dense, sparse):
    out = run(live_index(dimension=None if kind == "SPARSE" else 2, index_type=kind), "info")

    assert out["indexType"] == kind
    assert out.get("denseIndex") == dense
    assert out.get("sparseIndex") == sparse


def test_it_renames_namespaces_and_draws_random_records(live_index):
    out = run(live_index(), "renameAndRandom")

    assert out["emptyRandom"] is None
    assert out["renamed"] == {"renamed": True}
    assert out["random"] == {"id": "r1", "vector": [1, 0]}
    assert out["namespaces"] == ["", "new"]
    assert out["refused"] == {"thrown": "namespace: the default namespace cannot be renamed"}
