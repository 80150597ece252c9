"""One resumable bench run: the data sets (cached between runs), every scenario in order,
and the report (JSON, PNG, table). `run` takes parsed options and an already set-up
Django, so a test can call it on pytest's database with tiny sizes."""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.clients import HttpClient, ServiceClient
from bench.data import (
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    NOISE,
    SPARSE_GENERATOR_VERSION,
    SPARSE_NNZ,
    SPARSE_QUERY_NNZ,
    ZIPF_EXPONENT,
    DataSet,
    SparseCase,
    choose_sparse_queries,
    fingerprint,
    make_queries,
    make_sparse,
    make_vectors,
    sparse_queries,
)
from bench.env import VAR_DIR, display_path, machine_info, software_versions
from bench.load import delete_bench_indexes, ensure_index
from bench.peers import SqlBaseline, measure_baselines, measure_milvus
from bench.plot import plot
from bench.report import evaluate_targets, print_table
from bench.scenarios import (
    measure_drain,
    measure_filtered,
    measure_ours,
    measure_plain_query,
    measure_recall,
    measure_walk,
    refill_schedule,
)
from bench.servers import http_server
from bench.sparse import measure_sparse_hybrid

MILVUS_DIR = VAR_DIR / "bench-milvus"


@dataclass
class Prepared:
    main: DataSet
    main_index: Any
    drain: DataSet
    exact: DataSet
    drain_index: Any
    queries: np.ndarray
    sparse_case: SparseCase | None


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings

    sparse = {
        "records": args.sparse_records,
        "vocab": args.sparse_vocab,
        "zipf_exponent": ZIPF_EXPONENT,
        "non_zeros_per_record": list(SPARSE_NNZ),
        "non_zeros_per_query": list(SPARSE_QUERY_NNZ),
        "queries": args.sparse_queries,
        "timed_calls": args.sparse_timed_calls,
    }
    return {
        "vectors": args.vectors,
        "dim": args.dim,
        "clusters": args.clusters,
        "noise": NOISE,
        "seed": args.seed,
        "queries": args.queries,
        "depths": args.depth_list,
        "timed_calls": args.timed_calls,
        "advance_call": args.advance,
        "baseline_pages": args.baseline_pages,
        "recall_k": args.recall_k,
        "drain_vectors": args.drain_vectors,
        "exact_vectors": args.exact_vectors,
        "similarity": "COSINE",
        "hnsw": {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": settings.VECSITE_HNSW_EF_SEARCH},
        "exact_search_max_vectors": settings.VECSITE_EXACT_SEARCH_MAX_VECTORS,
        "background_refill": getattr(settings, "VECSITE_RESUMABLE_BACKGROUND_REFILL", None),
        "quick": args.quick,
        "load_mode": args.load_mode,
        "filtered": args.filtered,
        "sparse": None if args.no_sparse else sparse,
        "plain_query_reps": args.plain_query_reps,
    }


def run(args: argparse.Namespace, *, database: dict[str, Any], command: str, started: float) -> int:
    report: dict[str, Any] = {
        "schema": 1,
        "benchmark": "resumable queries",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "parameters": parameters(args),
        "database": database,
        "machine": machine_info(),
        "versions": software_versions(),
        "latency": {},
        "notes": [],
    }
    created: list[str] = []
    try:
        prepared = prepare(args, report, created)
        if args.load_only:
            print(json.dumps(report["data"], indent=1))
            return 0
        run_scenarios(args, report, prepared)
        finish(args, report, started)
        return 0
    finally:
        if args.shared_database and created:
            deleted = delete_bench_indexes(keep=set(), only=set(created))
            print(f"deleted the bench indexes from the shared database: {', '.join(deleted)}")


def prepare(args: argparse.Namespace, report: dict[str, Any], created: list[str]) -> Prepared:
    """Generate the data and load it, or find it loaded (appending the index names to `created`)."""
    print("data:")
    main_fp = fingerprint("main", args.seed, args.vectors, args.dim, args.clusters)
    drain_fp = fingerprint("drain", args.seed, args.drain_vectors, args.exact_vectors, args.dim, args.clusters)
    main_name, drain_name = f"bench-main-{main_fp}", f"bench-drain-{drain_fp}"
    sparse_fp = fingerprint(
        "sparse",
        SPARSE_GENERATOR_VERSION,
        ZIPF_EXPONENT,
        SPARSE_NNZ,
        args.seed,
        args.sparse_records,
        args.sparse_vocab,
        args.vectors,
        args.dim,
        args.clusters,
    )
    sparse_name, hybrid_name = f"bench-sparse-{sparse_fp}", f"bench-hybrid-{sparse_fp}"
    wanted = {main_name, drain_name} | (set() if args.no_sparse else {sparse_name, hybrid_name})
    if not args.shared_database and not args.quick:
        # A --quick run leaves the full run's data sets alone (they take minutes to load).
        stale = delete_bench_indexes(keep=wanted)
        if stale:
            print(f"  removed stale bench indexes: {', '.join(stale)}")
    loading = {
        "fresh": args.fresh,
        "shared_database": args.shared_database,
        "load_mode": args.load_mode,
        "batch": args.batch,
        "progress": args.progress,
    }
    vectors, labels = make_vectors(args.seed, args.vectors, args.dim, args.clusters)
    queries = make_queries(args.seed, args.queries, args.dim, args.clusters)
    drain_vectors, drain_labels = make_vectors(args.seed + 1, args.drain_vectors, args.dim, args.clusters)
    exact_vectors, exact_labels = make_vectors(args.seed + 2, args.exact_vectors, args.dim, args.clusters)
    main_index, main_load = ensure_index(main_name, args.dim, {"": (vectors, labels)}, **loading)
    created.append(main_name)
    drain_parts = {"drain": (drain_vectors, drain_labels), "exact": (exact_vectors, exact_labels)}
    drain_index, drain_load = ensure_index(drain_name, args.dim, drain_parts, **loading)
    created.append(drain_name)
    report["data"] = {"main": {"index": main_name, **main_load}, "drain": {"index": drain_name, **drain_load}}
    sparse_case = None
    if not args.no_sparse:
        n = args.sparse_records
        t0 = time.perf_counter()
        rows = make_sparse(args.seed, n, args.sparse_vocab, SPARSE_NNZ, stream=11)
        candidates, chosen, selection = choose_sparse_queries(args.seed, rows, args.sparse_vocab, args.sparse_queries)
        generate_seconds = round(time.perf_counter() - t0, 2)
        part = {"": (vectors[:n], labels[:n])}
        sparse_index, sparse_load = ensure_index(
            sparse_name, args.dim, part, index_type="SPARSE", sparse=rows, **loading
        )
        created.append(sparse_name)
        hybrid_index, hybrid_load = ensure_index(
            hybrid_name, args.dim, part, index_type="HYBRID", sparse=rows, **loading
        )
        created.append(hybrid_name)
        report["data"]["sparse"] = {"index": sparse_name, "generate_seconds": generate_seconds, **sparse_load}
        report["data"]["hybrid"] = {"index": hybrid_name, **hybrid_load}
        sparse_case = SparseCase(
            sparse_index=sparse_index,
            hybrid_index=hybrid_index,
            rows=rows,
            queries=sparse_queries(candidates, chosen, queries),
            query_selection=selection,
            vocab=args.sparse_vocab,
            fingerprint=sparse_fp,
        )
    return Prepared(
        main=DataSet(main_name, "", vectors, labels, main_fp),
        main_index=main_index,
        drain=DataSet(drain_name, "drain", drain_vectors, drain_labels, drain_fp),
        exact=DataSet(drain_name, "exact", exact_vectors, exact_labels, drain_fp),
        drain_index=drain_index,
        queries=queries,
        sparse_case=sparse_case,
    )


@contextlib.contextmanager
def guarded(report: dict[str, Any], key: str, label: str) -> Iterator[None]:
    """Record a failed phase (keeping the run's other figures) instead of raising."""
    try:
        yield
    except Exception as error:
        report["latency"][key] = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        report["notes"].append(f"{label} phase failed: {traceback.format_exc()}")
        print(f"  {label} phase failed: {error}")


def run_scenarios(args: argparse.Namespace, report: dict[str, Any], data: Prepared) -> None:
    from django.conf import settings

    from search.models import Namespace
    from search.services.indexes import index_rotate_tokens

    service = ServiceClient(data.main_index, data.main.namespace)
    queries = data.queries
    timing = {"timed_calls": args.timed_calls, "advance_step": args.advance, "progress": args.progress}
    print("warming up ...")  # the HNSW index and the table into memory, for every series alike
    for q in queries[: min(3, len(queries))]:
        handle, _ = service.start(q, 10)
        service.next(handle, 1000)
        service.end(handle)
    deepest = max(args.depth_list)
    report["refill_schedule"] = {
        "note": f"refills of one handle started with topK=10 and advanced with next({args.advance}) to depth "
        f"{deepest}; ms is the wall time of the call that refilled",
        "refills": refill_schedule(service, queries[0], deepest + 10 * args.timed_calls, args.advance),
    }
    print("latency by depth ...")
    report["latency"]["ours_service"] = measure_ours(
        service, queries, args.depth_list, desc="service next(10)", **timing
    )
    if args.no_http:
        report["latency"]["ours_http"] = {"status": "skipped"}
    else:
        with guarded(report, "ours_http", "HTTP"):
            token = index_rotate_tokens(index=data.main_index).token
            with http_server(token) as base:
                http = HttpClient(base, token, data.main.namespace)
                drain_http = HttpClient(base, index_rotate_tokens(index=data.drain_index).token, data.drain.namespace)
                try:
                    report["latency"]["ours_http"] = measure_ours(
                        http, queries, args.depth_list, desc="HTTP next(10)", **timing
                    )
                    report.setdefault("drain", {})["http"] = measure_drain(
                        drain_http, len(data.drain.vectors), queries[0], 500, "HTTP"
                    )
                finally:
                    http.close()
                    drain_http.close()
    if args.no_baselines:
        report["latency"]["offset"] = report["latency"]["keyset"] = {"status": "skipped"}
    else:
        ns = Namespace.objects.get(index=data.main_index, name=data.main.namespace)
        baseline = SqlBaseline(
            index=data.main_index, namespace_id=ns.pk, dim=args.dim, ef_search=settings.VECSITE_HNSW_EF_SEARCH
        )
        sql = measure_baselines(
            baseline, data.main.vectors, queries, args.depth_list, pages=args.baseline_pages, progress=args.progress
        )
        report["latency"]["offset"], report["latency"]["keyset"] = sql["offset"], sql["keyset"]
        report["baseline_settings"], report["baseline_plans"] = sql["settings"], sql["plans"]
    if args.no_milvus:
        report["latency"]["milvus"] = {"status": "skipped"}
    else:
        report["latency"]["milvus"] = measure_milvus(
            MILVUS_DIR / f"{data.main.name}.db",
            data.main.vectors,
            queries,
            args.depth_list,
            timed_calls=args.timed_calls,
            recall_k=args.recall_k,
            ef_search=settings.VECSITE_HNSW_EF_SEARCH,
            budget=args.milvus_budget,
            fresh=args.fresh,
            progress=args.progress,
        )
    if args.walk_queries > 0:
        report["walk"] = measure_walk(
            service,
            queries[: args.walk_queries],
            deepest,
            extra_calls=args.timed_calls,
            edges=args.depth_list,
            progress=args.progress,
        )
    recall = {"desc": "recall (main)", "progress": args.progress}
    report["recall"] = {"main": measure_recall(service, data.main.vectors, queries, args.recall_k, 100, **recall)}
    exact = ServiceClient(data.drain_index, data.exact.namespace)
    k_exact = min(args.recall_k, len(data.exact.vectors))
    recall["desc"] = "recall (small)"
    report["recall"]["small"] = measure_recall(exact, data.exact.vectors, queries, k_exact, 100, **recall)
    drain = ServiceClient(data.drain_index, data.drain.namespace)
    report.setdefault("drain", {})["service"] = measure_drain(
        drain, len(data.drain.vectors), queries[0], 500, "service"
    )
    report["plain_query"] = {"unfiltered": measure_plain_query(service, queries, args.plain_query_reps)}
    if args.filtered:
        with guarded(report, "filtered", "filtered"):
            report["latency"]["filtered"], report["filtered"] = measure_filtered(
                service,
                data.main.vectors,
                queries,
                recall_k=args.recall_k,
                plain_query_reps=args.plain_query_reps,
                **timing,
            )
            report["plain_query"]["filtered"] = report["filtered"]["plain_query"]
    if data.sparse_case is not None:
        with guarded(report, "sparse", "sparse/hybrid"):
            latency, report["sparse_hybrid"] = measure_sparse_hybrid(
                data.sparse_case,
                timed_calls=args.sparse_timed_calls,
                advance_step=args.advance,
                recall_k=args.recall_k,
                plain_query_reps=args.plain_query_reps,
                progress=args.progress,
            )
            report["latency"].update(latency)


def finish(args: argparse.Namespace, report: dict[str, Any], started: float) -> None:
    """Targets, then the PNG, the JSON (written atomically) and the table."""
    report["targets"] = evaluate_targets(report)
    report["elapsed_seconds"] = round(time.time() - started, 1)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.output_dir / f"{args.name}.json"
    png_path = args.output_dir / f"{args.name}.png"
    plot_error = plot(report, png_path)
    if plot_error:
        report["notes"].append(f"no plot: {plot_error}")
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str) + "\n")
    tmp.replace(json_path)
    print_table(report)
    print()
    print(f"wrote {display_path(json_path)}")
    if not plot_error:
        print(f"wrote {display_path(png_path)}")
    print(f"elapsed {report['elapsed_seconds']} s")
