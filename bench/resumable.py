"""Resumable-query benchmark: does next(10) cost the same at depth 50,000 as at depth 0?

One run, one data set (seeded, clustered, normalised float32 vectors; COSINE; HNSW):

* latency  - next(10) at each depth through the service layer and through the HTTP API
             (a real gunicorn on a free port), beside the plain OFFSET query, the
             keyset-on-distance query and Milvus Lite's search_iterator on the same vectors;
* walk     - next(10) timed call by call from the start down to the deepest depth
             (the amortised cost, every buffer refill included);
* recall   - the first 1,000 results gathered page by page against numpy brute force;
* drain    - a separate namespace emptied with next(500): every vector exactly once.

Figures go to bench/results/resumable.json and resumable.png, and a table is printed.
Latencies are compared as ratios to depth 0 (the machine is shared and noisy).
See bench/README.md. Run `python -m bench.resumable --help` (or `python bench/resumable.py`).

The benchmark never touches the user's data: unless DATABASE_URL is set it runs on its
own embedded PostgreSQL under var/bench-pgdata, which it keeps as a cache between runs.
The scenarios live in the modules beside this one; this file reads the options.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.env import RESULTS_DIR, VAR_DIR, setup_django

BENCH_PGDATA = VAR_DIR / "bench-pgdata"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.resumable",
        description=(
            "Benchmark resumable queries: next(10) latency by depth (service layer, HTTP API, OFFSET, "
            "keyset and Milvus Lite baselines), recall of the first 1,000 results, and a full drain. "
            "Writes bench/results/resumable.json and resumable.png and prints a table."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    size = parser.add_argument_group("data")
    size.add_argument("--vectors", type=int, default=100_000, help="vectors in the main namespace")
    size.add_argument("--dim", type=int, default=384, help="dimension")
    size.add_argument("--clusters", type=int, default=100, help="cluster centres the vectors are drawn around")
    size.add_argument("--seed", type=int, default=42, help="seed of the data and query vectors")
    size.add_argument("--drain-vectors", type=int, default=20_000, help="vectors in the namespace drained")
    size.add_argument(
        "--exact-vectors",
        type=int,
        default=5_000,
        help="vectors in a small namespace searched exactly (recall must be 1.0 there)",
    )
    size.add_argument(
        "--sparse-records",
        type=int,
        default=20_000,
        help="records in the SPARSE index and in the HYBRID index (the first N dense vectors + a sparse vector)",
    )
    size.add_argument("--sparse-vocab", type=int, default=30_000, help="sparse vocabulary size (Zipf-like)")
    size.add_argument("--fresh", action="store_true", help="reload the data even if a cached copy matches")
    size.add_argument(
        "--load-mode",
        choices=["rebuild", "incremental"],
        default="rebuild",
        help="rebuild: drop the HNSW index, load, build it once (faster); incremental: keep it while loading",
    )
    size.add_argument("--batch", type=int, default=1_000, help="vectors per vectors_upsert call while loading")
    size.add_argument("--load-only", action="store_true", help="load (or find cached) data, then stop")

    run = parser.add_argument_group("measurement")
    run.add_argument("--queries", type=int, default=10, help="query vectors")
    run.add_argument("--depths", default="0,1000,10000,50000", help="comma-separated depths")
    run.add_argument("--timed-calls", type=int, default=20, help="consecutive next(10) calls timed at each depth")
    run.add_argument(
        "--baseline-pages",
        type=int,
        default=5,
        help="consecutive pages of 10 timed per depth for the OFFSET and keyset baselines",
    )
    run.add_argument("--advance", type=int, default=1_000, help="size of the untimed next() calls used to advance")
    run.add_argument("--recall-k", type=int, default=1_000, help="results gathered for the recall check")
    run.add_argument(
        "--walk-queries",
        type=int,
        default=2,
        help="queries paged with next(10) from the start to the deepest depth, every call timed (0: skip)",
    )
    run.add_argument("--milvus-budget", type=float, default=120.0, help="seconds per query for Milvus Lite's walk")
    run.add_argument("--no-http", action="store_true", help="skip the HTTP API")
    run.add_argument("--no-milvus", action="store_true", help="skip the Milvus Lite peer")
    run.add_argument("--no-baselines", action="store_true", help="skip the OFFSET and keyset SQL baselines")
    run.add_argument(
        "--filtered",
        action="store_true",
        help="run the selective-filter case (1%% of the namespace matches `bucket = 7`; on by default now)",
    )
    run.add_argument("--no-filtered", action="store_true", help="skip the selective-filter case")
    run.add_argument("--no-sparse", action="store_true", help="skip the SPARSE and HYBRID index scenarios")
    run.add_argument("--sparse-queries", type=int, default=5, help="queries for the sparse and hybrid series")
    run.add_argument(
        "--sparse-timed-calls",
        type=int,
        default=10,
        help="consecutive next(10) calls timed at each depth for the sparse and hybrid series",
    )
    run.add_argument(
        "--plain-query-reps",
        type=int,
        default=3,
        help="timed ordinary query(topK=10) calls per query vector (the reference for the start latency)",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 20,000 vectors, 5 queries, depths 0,500,2000,5000, 10 timed calls, small drain",
    )

    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    out.add_argument("--name", default="resumable", help="file name stem of the JSON and PNG")
    out.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    out.add_argument(
        "--replot", type=Path, metavar="JSON", help="only redraw the PNG beside this results JSON, then stop"
    )
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {
            "vectors": 20_000,
            "queries": 5,
            "depths": "0,500,2000,5000",
            "timed_calls": 10,
            "baseline_pages": 3,
            "drain_vectors": 5_000,
            "exact_vectors": 2_000,
            "walk_queries": 1,
            "milvus_budget": 60.0,
            "sparse_records": 4_000,
            "sparse_vocab": 10_000,
            "sparse_queries": 3,
            "sparse_timed_calls": 5,
            "plain_query_reps": 2,
        }
        for key, value in defaults.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    args.depth_list = sorted({int(d) for d in str(args.depths).split(",") if d.strip()})
    if not args.depth_list or args.depth_list[0] != 0:
        args.depth_list = [0, *args.depth_list]
    if max(args.depth_list) + 10 * args.timed_calls > args.vectors:
        parser.error("the deepest depth plus the timed calls must stay within --vectors")
    if args.recall_k > args.vectors:
        parser.error("--recall-k must not exceed --vectors")
    if args.sparse_records > args.vectors:
        parser.error("--sparse-records must not exceed --vectors (the hybrid records reuse the dense vectors)")
    args.filtered = not args.no_filtered
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        import json

        from bench.plot import plot

        report = json.loads(args.replot.read_text())
        error = plot(report, args.replot.with_suffix(".png"))
        print(error or f"wrote {args.replot.with_suffix('.png')}")
        return 1 if error else 0
    args.progress = not args.no_progress
    args.shared_database = bool(os.environ.get("DATABASE_URL"))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.time()
    # No Celery worker runs beside this bench: `next` refills buffers by itself.
    os.environ.setdefault("VECSITE_RESUMABLE_BACKGROUND_REFILL", "0")
    db_info = setup_django(BENCH_PGDATA)
    from bench.run import run

    command = " ".join(["python -m bench.resumable", *(sys.argv[1:] if argv is None else argv)])
    return run(args, database=db_info, command=command, started=started)


if __name__ == "__main__":
    sys.exit(main())
