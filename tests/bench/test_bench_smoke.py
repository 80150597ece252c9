"""The benchmark, run in-process on pytest's database with tiny sizes, so they cannot rot:
every scenario runs, the report has its shape, and the exactness checks hold."""

from __future__ import annotations

import json
import time
from importlib.util import find_spec

import pytest

from bench import resumable
from bench.run import run

pytestmark = pytest.mark.django_db(transaction=True)
HAS_MATPLOTLIB = find_spec("matplotlib") is not None


def test_the_resumable_bench_runs_and_its_checks_hold(tmp_path, capsys):
    args = resumable.parse_args(
        "--vectors 1500 --dim 16 --clusters 10 --queries 3 --depths 0,200 --timed-calls 5 --baseline-pages 2 "
        "--drain-vectors 500 --exact-vectors 500 --walk-queries 1 --plain-query-reps 1 --no-http --no-milvus "
        "--sparse-records 300 --sparse-vocab 2000 --sparse-queries 2 --sparse-timed-calls 3 --no-progress "
        f"--output-dir {tmp_path}".split()
    )
    args.progress, args.shared_database = False, True
    assert run(args, database={"database": "pytest"}, command="smoke", started=time.time()) == 0

    report = json.loads((tmp_path / "resumable.json").read_text())
    assert (tmp_path / "resumable.png").exists() == HAS_MATPLOTLIB
    service = report["latency"]["ours_service"]
    assert [row["depth"] for row in service["rows"]] == [0, 200]
    for row in service["rows"]:
        assert row["n"] == 3 * 5 and len(row["samples_ms"]) == 15 and row["median_ms"] > 0
        assert row["short_pages"] == 0 and row["duplicates_within_handles"] == 0
    assert service["start"]["n"] == 3 * 2
    assert report["latency"]["offset"]["rows"] and report["latency"]["keyset"]["rows"]
    # Refills are seen through the handle's public progress: the start buffers the first chunk.
    [first] = report["refill_schedule"]["refills"]
    assert first["kind"] == "first" and first["added"] == 1000 and first["call"] == 0
    assert report["walk"]["calls_per_query"] == 200 // 10 + 5
    # 1,500 vectors are searched exactly: recall 1.0 on both namespaces, every drain exact.
    assert report["recall"]["main"]["mean"] == 1.0
    assert report["recall"]["small"]["min"] == 1.0
    assert report["drain"]["service"]["every_vector_exactly_once"]
    assert report["drain"]["service"]["returned"] == 500
    for drain in report["sparse_hybrid"]["drain"].values():
        assert drain["every_match_exactly_once"]
    assert report["sparse_hybrid"]["hybrid_walk"]["every_record_exactly_once"]
    targets = report["targets"]
    for name in (
        "recall_main",
        "recall_small",
        "drain_service",
        "drain_sparse",
        "drain_sparse_idf",
        "hybrid_no_duplicates",
    ):
        assert targets[name]["met"], (name, targets[name])
    assert "target recall_small: MET" in capsys.readouterr().out
