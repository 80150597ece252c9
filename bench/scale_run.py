"""The scale bench's measurements for one N, and the run over every N (with the Celery
worker beside it). Everything goes through the service layer, as the web API would."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import Any

from bench.clients import ServiceClient
from bench.data import FILTER_BUCKET, FILTER_BUCKETS
from bench.env import display_path, loadavg
from bench.load import vacuum
from bench.peers import SqlBaseline, measure_baselines, measure_milvus
from bench.scale_data import SizeData, prepare_size
from bench.scale_report import evaluate_size, overall_targets, print_sparse_table, print_table
from bench.scale_sparse import measure_sparse_size, sparse_sizes
from bench.scenarios import (
    measure_drain,
    measure_ours,
    measure_plain_query,
    measure_plain_recall,
    measure_recall,
    measure_start_and_query,
    measure_walk,
)
from bench.stats import Deadline, phase, reachable_depths


def measure_size(args: argparse.Namespace, data: SizeData, out: dict[str, Any]) -> None:
    from django.conf import settings

    from search.models import Namespace

    n, queries = data.n, data.queries
    deadline = Deadline(args.budget_minutes * 60)
    service = ServiceClient(data.main_index, "")
    out["loadavg_before"] = loadavg()
    # Nothing for autovacuum to do on the vectors during the measurements (quick when cached),
    # unless another N's HNSW index is being built in the same table: then it would wait hours.
    out["vacuum_seconds"] = vacuum_unless_locked()
    print(f"N = {n:,}: warming up ...", flush=True)
    for q in queries[:2]:
        service.query(q, 10)
        handle, _ = service.start(q, 10)
        service.next(handle, 1000)
        service.end(handle)
    common = {"progress": args.progress, "deadline": deadline}
    with phase(out, "plain_query", deadline) as skipped:
        if not skipped:
            paired = measure_start_and_query(service, queries, args.plain_query_reps)
            out["plain_query"] = {
                **paired["cold"]["query"],
                "recall": measure_plain_recall(service, data.main.vectors, queries),
            }
            out["start"] = paired["cold"]["start"]
            out["warm"] = {"plain_query": paired["warm"]["query"], "start": paired["warm"]["start"]}
    depths = reachable_depths(args.depths, n, args.timed_calls)
    out["depths"] = {"measured": depths, "beyond_n": [d for d in args.depths if d not in depths]}
    with phase(out, "by_depth", deadline) as skipped:
        if not skipped:
            out["by_depth"] = measure_ours(
                service,
                queries,
                depths,
                timed_calls=args.timed_calls,
                advance_step=args.advance,
                desc=f"N={n:,} next(10) by depth",
                **common,
            )
    walk_depth = min(args.walk_depth, (n - 10) // 10 * 10)
    with phase(out, "walk", deadline) as skipped:
        if not skipped and args.walk_queries > 0:
            out["walk"] = measure_walk(
                service, queries[: args.walk_queries], walk_depth, extra_calls=0, edges=args.depths, **common
            )
            out["walk"]["depth"] = walk_depth
    with phase(out, "recall", deadline) as skipped:
        if not skipped:
            k = min(args.recall_k, n)
            out["recall"] = measure_recall(
                service, data.main.vectors, queries, k, args.recall_page, desc="recall", progress=args.progress
            )
    with phase(out, "drain", deadline) as skipped:
        if not skipped:
            drain = ServiceClient(data.drain_index, data.drain.namespace)
            out["drain"] = measure_drain(drain, len(data.drain.vectors), queries[0], args.drain_page, "service")
            out["drain"]["index"] = data.drain.name
    with phase(out, "filtered", deadline) as skipped:
        if not skipped and not args.no_filtered:
            out["filtered"] = measure_filtered_page(args, service, queries, n, deadline)
    with phase(out, "baselines", deadline) as skipped:
        if not skipped and not args.no_baselines:
            ns = Namespace.objects.get(index=data.main_index, name="")
            baseline = SqlBaseline(
                index=data.main_index, namespace_id=ns.pk, dim=args.dim, ef_search=settings.VECSITE_HNSW_EF_SEARCH
            )
            sql = measure_baselines(
                baseline,
                data.main.vectors,
                queries[: args.baseline_queries],
                depths,
                pages=args.baseline_pages,
                **common,
            )
            out["baselines"] = {"offset": sql["offset"], "keyset": sql["keyset"], "settings": sql["settings"]}
            out["baselines"]["plans"] = sql["plans"]
    with phase(out, "milvus", deadline) as skipped:
        if not skipped and args.milvus:
            out["milvus"] = measure_milvus(
                args.cache_dir / "milvus" / f"{data.main.name}.db",
                data.main.vectors,
                queries,
                depths,
                timed_calls=args.timed_calls,
                recall_k=min(args.recall_k, n),
                ef_search=settings.VECSITE_HNSW_EF_SEARCH,
                budget=args.milvus_budget,
                fresh=args.fresh,
                progress=args.progress,
            )
    out["budget_spent"] = deadline.passed
    out["loadavg_after"] = loadavg()


def measure_filtered_page(
    args: argparse.Namespace, service: ServiceClient, queries: Any, n: int, deadline: Deadline
) -> dict[str, Any]:
    """`bucket = 7` (1% match): the start (topK=10) and the next(10) pages after it, and an
    ordinary filtered query(topK=10) for reference; every page must be full."""
    filter_text = f"bucket = {FILTER_BUCKET}"
    matching = len(range(FILTER_BUCKET, n, FILTER_BUCKETS))
    calls = max(1, min(args.filtered_calls, (matching - 10) // 10))
    timing = measure_ours(
        service,
        queries,
        [0],
        timed_calls=calls,
        advance_step=args.advance,
        progress=args.progress,
        desc="filtered start and next(10)",
        filter_text=filter_text,
        deadline=deadline,
    )
    row = timing["rows"][0]
    plain = measure_plain_query(service, queries, args.plain_query_reps, filter_text=filter_text)
    return {
        "filter": filter_text,
        "matching": matching,
        "start": timing["start"],
        "next": {key: row[key] for key in ("n", "median_ms", "p95_ms", "mean_ms", "max_ms", "short_pages")},
        "next_samples_ms": row["samples_ms"],
        "timed_calls_per_handle": calls,
        "duplicates_within_handles": row["duplicates_within_handles"],
        "plain_query": plain,
        "full_pages": plain["full_pages"] == plain["calls"] and row["short_pages"] == 0,
    }


def vacuum_unless_locked() -> float | str:
    from django.db import OperationalError, connection

    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '10s'")
        try:
            return round(vacuum(), 2)
        except OperationalError:
            return "skipped: the table is locked (an index being built)"
        finally:
            cursor.execute("RESET lock_timeout")


@contextlib.contextmanager
def maybe_worker(args: argparse.Namespace, report: dict[str, Any]) -> Iterator[None]:
    if not args.celery:
        report["celery"] = {"status": "off (--no-celery)"}
        yield
        return
    from bench.servers import celery_worker

    log = args.cache_dir / "logs" / f"celery-worker-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with celery_worker(args.celery_broker, log, concurrency=args.celery_concurrency) as worker:
        print(f"celery worker ready in {worker.ready_seconds} s (pid {worker.pid}, broker {args.celery_broker})")
        try:
            yield
        finally:
            report["celery"] = worker.report()
    report["celery"] = {**report["celery"], **worker.info}


def run_sizes(args: argparse.Namespace, report: dict[str, Any], started: float) -> int:
    from bench.scale import write_report

    with maybe_worker(args, report):
        for n in args.sizes:
            t0 = time.perf_counter()
            data = prepare_size(args, n)
            size: dict[str, Any] = {"n": n, "data": data.report}
            report["sizes"][str(n)] = size
            measure_size(args, data, size)
            if n in sparse_sizes(args):
                measure_sparse_size(args, data, size)
            else:
                size["sparse"] = size["hybrid"] = {"status": "skipped (--no-sparse or not in --sparse-sizes)"}
            size["targets"] = evaluate_size(size)
            size["seconds"] = round(time.perf_counter() - t0, 1)
            report["targets"] = overall_targets(report)
            report["elapsed_seconds"] = round(time.time() - started, 1)
            write_report(report, args)
            print(f"N = {n:,} done in {size['seconds']} s")
    report["targets"] = overall_targets(report)
    report["elapsed_seconds"] = round(time.time() - started, 1)
    json_path, png_path = write_report(report, args)
    print_table(report)
    print_sparse_table(report)
    print()
    print(f"wrote {display_path(json_path)}")
    if png_path is not None:
        print(f"wrote {display_path(png_path)}")
    print(f"elapsed {report['elapsed_seconds']} s")
    return 0
