"""The benchmarks, run in-process on pytest's database with tiny sizes, so they cannot rot:
every scenario runs, the report has its shape, and the exactness checks hold."""

from __future__ import annotations

import json
import time
from importlib.util import find_spec

import pytest

from bench import resumable, scale
from bench.data import metadata
from bench.load import create_index, hnsw_index_exists
from bench.run import run
from bench.scale_data import prepare_size
from bench.scale_run import run_sizes
from bench.scale_sparse import prepare_sparse
from search.models import Index, Namespace, Vector
from search.services.records import RecordInput
from search.services.vectors import vectors_upsert

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
    # Refills are seen through the handle's public progress: the start buffers the first
    # candidates, later merges bring the rest; together they cover every result handed out.
    first, *later = report["refill_schedule"]["refills"]
    assert first["kind"] == "first" and first["call"] == 0 and first["added"] > 0
    assert all(refill["added"] > 0 and refill["call"] > 0 for refill in later)
    assert sum(refill["added"] for refill in [first, *later]) >= 200 + 10 * 5
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


def test_the_scale_bench_runs_and_its_checks_hold(tmp_path):
    args = scale.parse_args(
        "--sizes 2000 --dim 16 --clusters 10 --queries 3 --depths 0,200 --timed-calls 5 --advance 100 "
        "--walk-depth 300 --recall-k 300 --drain-vectors 500 --plain-query-reps 1 --filtered-calls 2 "
        f"--baseline-queries 2 --baseline-pages 2 --no-celery --no-progress --cache-dir {tmp_path / 'cache'} "
        "--sparse-vocab 2000 --sparse-queries 2 --sparse-depths 0,200 --sparse-timed-calls 3 "
        f"--output-dir {tmp_path}".split()
    )
    args.shared_database = False
    report = {"parameters": scale.parameters(args), "sizes": {}, "notes": []}
    assert run_sizes(args, report, time.time()) == 0

    written = json.loads((tmp_path / "scale.json").read_text())
    assert (tmp_path / "scale.png").exists() == HAS_MATPLOTLIB
    size = written["sizes"]["2000"]
    # Loaded with COPY, the namespace's vector count kept, the HNSW index built after.
    main = size["data"]["main"]
    assert main["cached"] is False and main["vectors"] == 2000 and main["load"]["index_build_seconds"] >= 0
    index = Index.objects.get(name=main["index"])
    namespace = Namespace.objects.get(index=index, name="")
    assert namespace.vector_count == namespace.last_number == 2000
    numbers = Vector.objects.filter(namespace=namespace).order_by("pk").values_list("key", "number")
    assert list(numbers) == [(f"v{i}", i + 1) for i in range(2000)]  # as vectors_upsert numbers them
    assert hnsw_index_exists(index.pk)
    assert [row["depth"] for row in size["by_depth"]["rows"]] == [0, 200]
    assert size["walk"]["calls_timed"] == 30 and size["walk"]["max_ms"] >= size["walk"]["median_ms"]
    assert size["recall"]["mean"] == 1.0 and size["recall"]["min"] == 1.0  # searched exactly at 2,000
    assert size["plain_query"]["recall"]["min"] == 1.0
    # The start against the ordinary query, timed alike, cold and warm; judged on both.
    reps = args.plain_query_reps * args.queries
    assert size["plain_query"]["n"] == size["start"]["n"] == reps
    assert size["warm"]["plain_query"]["n"] == size["warm"]["start"]["n"] == reps
    assert size["targets"]["start_vs_query"]["warm_ratio"] is not None
    assert size["drain"]["every_vector_exactly_once"] and size["drain"]["namespace_vectors"] == 500
    assert size["filtered"]["matching"] == 20 and size["filtered"]["full_pages"]
    assert size["baselines"]["offset"]["rows"] and size["baselines"]["keyset"]["rows"]
    assert set(size["targets"]) >= {"start_vs_query", "depth_ratio", "walk_spike", "recall", "drain"}
    assert size["targets"]["drain"]["met"] and size["targets"]["recall"]["met"]
    assert written["targets"]["drain"]["met"]
    # A second run finds the data where it left them: nothing is generated or loaded again.
    again = prepare_size(args, 2000)
    assert again.report["main"]["cached"] and again.report["main"]["vectors_file"] == "cached"
    assert again.report["main"]["load"]["load_seconds"] == main["load"]["load_seconds"]  # kept from the load
    assert again.report["drain"]["cached"]

    # SPARSE and HYBRID rows beside the dense ones: report only, every series measured.
    sparse, hybrid = size["sparse"], size["hybrid"]
    assert sparse["data"]["sparse"]["cached"] is False and hybrid["data"]["cached"] is False
    assert hybrid["data"]["load"]["index_build_seconds"] >= 0 and sparse["data"]["sparse"]["load"]["vectors"] == 2000
    assert min(sparse["matching_per_query"]) >= 1000  # broad queries, so the depths are reachable
    for series in (sparse["series"]["sparse"], sparse["series"]["sparse_idf"], hybrid["series"]["hybrid"]):
        assert [row["depth"] for row in series["rows"]] == [0, 200]
        assert all(row["n"] == 2 * 3 and row["median_ms"] > 0 for row in series["rows"])
        assert series["start"]["n"] == 2 * 2 and series["plain_query"]["full_pages"] == 2
        assert series["duplicates_within_handles"] == 0 and series["short_pages"] == 0
        assert series["capped"] is None
    # An ordinary SPARSE query is exact: the COPY wrote the vectors and their GIN-indexed indices right.
    assert sparse["series"]["sparse"]["plain_query"]["top10_vs_brute_force"]["min"] == 1.0
    assert "sparse" in written["parameters"] and written["sizes"]["2000"]["sparse"]["series"]


def test_the_scale_bench_copies_sparse_rows_as_the_service_writes_them(tmp_path):
    """Each COPY-loaded SPARSE and HYBRID row holds what vectors_upsert would have written
    for the same record (the sparsevec, the GIN-indexed non-zero indices, the embedding,
    the metadata), and the namespace's counters are the service's."""
    args = scale.parse_args(
        f"--sizes 300 --dim 8 --clusters 4 --sparse-vocab 500 --sparse-queries 1 --no-progress --no-celery "
        f"--copy-chunk 120 --cache-dir {tmp_path}".split()
    )
    args.shared_database = False
    case, report = prepare_sparse(args, prepare_size(args, 300))
    assert report["sparse"]["cached"] is False
    for index in (case.sparse_index, case.hybrid_index):
        namespace = Namespace.objects.get(index=index, name="")
        assert namespace.vector_count == namespace.last_number == 300
        reference = create_index(f"ref-{index.index_type.lower()}", 8, index.index_type)
        vectors = prepare_size(args, 300).main
        records = [
            RecordInput(
                id=f"v{i}",
                vector=vectors.vectors[i].tolist() if index.has_dense else None,
                sparse=case.rows.row(i),
                metadata=metadata(i, vectors.labels[i]),
            )
            for i in range(300)
        ]
        vectors_upsert(index=reference, namespace="", records=records)
        fields = ("key", "number", "embedding", "sparse", "sparse_indices", "metadata")
        copied = list(Vector.objects.filter(index=index).order_by("number").values_list(*fields))
        upserted = list(Vector.objects.filter(index=reference).order_by("number").values_list(*fields))
        assert len(copied) == 300
        assert [repr(row) for row in copied] == [repr(row) for row in upserted]
    # Found again by fingerprint: nothing generated or loaded a second time.
    again = prepare_sparse(args, prepare_size(args, 300))[1]
    assert again["rows_file"] == "cached" and again["sparse"]["cached"] and again["hybrid"]["cached"]
