"""Scale benchmark: resumable queries at N = 10,000, 100,000 and 1,000,000 in one run.

For each N (384 dims, clustered, seeded), through the service layer: ordinary
query(topK=10) p50, resumable start p50, next(10) p50 by depth (0, 1,000, 10,000,
50,000), one walk from 0 to 50,000 timing every next(10), recall of the first 1,000
against numpy brute force, a drain of 100,000 vectors, a filtered (1%) start and page,
and the SQL OFFSET / keyset baselines at the same depths. Targets are evaluated; figures
go to bench/results/scale.json and scale.png. A real Celery worker (Redis broker) runs
beside the measurements unless --no-celery.

Data are generated once and kept under --cache-dir (default var/bench-scale): the
vectors as .npy files and the loaded indexes in the cache's own embedded PostgreSQL
(pgdata/), loaded with COPY and the HNSW index built afterwards. A fingerprint of the
parameters decides whether a cached copy is reused. See bench/README.md.

    .venv/bin/python -m bench.scale --help
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.env import RESULTS_DIR, VAR_DIR, machine_info, setup_django, software_versions
from bench.servers import CELERY_BROKER

DEFAULT_SIZES = "10000,100000,1000000"


def int_list(text: str) -> list[int]:
    try:
        values = sorted({int(item.replace("_", "")) for item in text.split(",") if item.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or values[0] < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative integers, got {text!r}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=(
            "Resumable queries at scale: for each N, ordinary query and resumable start p50, next(10) by depth, "
            "a walk to 50,000, recall of the first 1,000, a drain of 100,000, a filtered start and page, and the "
            "SQL baselines; then the same query, start and next(10) on a SPARSE and a HYBRID index of N records. Writes bench/results/scale.json and scale.png and prints a table."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--sizes", type=int_list, default=int_list(DEFAULT_SIZES), help="comma-separated N")
    data.add_argument("--dim", type=int, default=384, help="dimension")
    data.add_argument("--clusters", type=int, default=100, help="cluster centres the vectors are drawn around")
    data.add_argument("--seed", type=int, default=42, help="seed of the data and query vectors")
    data.add_argument(
        "--cache-dir",
        type=Path,
        default=VAR_DIR / "bench-scale",
        help="generated vectors (.npy) and the loaded database (pgdata/); point another checkout here to reuse them",
    )
    data.add_argument(
        "--fresh",
        action="store_true",
        help="reload the database even if it matches (the .npy files are deterministic and kept)",
    )
    data.add_argument("--load-only", action="store_true", help="generate and load (or find cached) data, then stop")
    data.add_argument("--copy-chunk", type=int, default=50_000, help="rows per COPY transaction")
    data.add_argument("--maintenance-work-mem", default="4GB", help="for the HNSW build (in memory is much faster)")
    data.add_argument("--build-workers", type=int, default=None, help="parallel maintenance workers (default cpus-1)")

    run = parser.add_argument_group("measurement")
    run.add_argument("--queries", type=int, default=10, help="query vectors")
    run.add_argument("--depths", type=int_list, default=int_list("0,1000,10000,50000"), help="next(10) depths")
    run.add_argument("--timed-calls", type=int, default=20, help="consecutive next(10) timed at each depth")
    run.add_argument("--advance", type=int, default=5_000, help="size of the untimed next() calls that fast-forward")
    run.add_argument("--walk-depth", type=int, default=50_000, help="the walk times every next(10) from 0 to here")
    run.add_argument("--walk-queries", type=int, default=1, help="handles walked (0: no walk)")
    run.add_argument("--recall-k", type=int, default=1_000, help="results gathered for the recall check")
    run.add_argument("--recall-page", type=int, default=100, help="topK and next() size while gathering them")
    run.add_argument(
        "--drain-vectors", type=int, default=100_000, help="vectors drained (whole namespace if N <= this)"
    )
    run.add_argument("--drain-page", type=int, default=500, help="next() size of the drain")
    run.add_argument("--plain-query-reps", type=int, default=3, help="ordinary query(topK=10) calls per query vector")
    run.add_argument("--filtered-calls", type=int, default=20, help="filtered next(10) calls timed after each start")
    run.add_argument("--no-filtered", action="store_true", help="skip the filtered (bucket = 7) start and page")
    run.add_argument("--no-baselines", action="store_true", help="skip the SQL OFFSET and keyset baselines")
    run.add_argument("--baseline-queries", type=int, default=5, help="queries for the SQL baselines")
    run.add_argument("--baseline-pages", type=int, default=3, help="consecutive pages of 10 per depth (baselines)")
    run.add_argument("--milvus", action="store_true", help="also Milvus Lite's search_iterator (slow to load at 1M)")
    run.add_argument("--milvus-budget", type=float, default=120.0, help="seconds per query for Milvus Lite's walk")
    run.add_argument(
        "--budget-minutes",
        type=float,
        default=90.0,
        help="per N: once spent, the remaining scenarios of that N are cut short (and say so)",
    )
    celery = run.add_mutually_exclusive_group()
    celery.add_argument("--celery", dest="celery", action="store_true", default=True, help="run a Celery worker")
    celery.add_argument("--no-celery", dest="celery", action="store_false", help="no Celery worker")
    run.add_argument("--celery-broker", default=CELERY_BROKER, help="the worker's (and the bench's) broker")
    run.add_argument("--celery-concurrency", type=int, default=1, help="the worker's processes")

    sparse = parser.add_argument_group("SPARSE and HYBRID rows (report only, no targets)")
    sparse.add_argument("--no-sparse", action="store_true", help="skip the SPARSE and HYBRID indexes")
    sparse.add_argument(
        "--sparse-sizes",
        type=int_list,
        default=None,
        help="the N (of --sizes) that get SPARSE and HYBRID rows (default: every N)",
    )
    sparse.add_argument("--sparse-vocab", type=int, default=30_000, help="sparse vocabulary size (Zipf-like)")
    sparse.add_argument("--sparse-queries", type=int, default=5, help="sparse (and hybrid) queries")
    sparse.add_argument("--sparse-depths", type=int_list, default=int_list("0,1000,10000"), help="next(10) depths")
    sparse.add_argument("--sparse-timed-calls", type=int, default=10, help="consecutive next(10) timed per depth")
    sparse.add_argument(
        "--sparse-slow-start",
        type=float,
        default=30.0,
        help="seconds: a series whose warm-up start takes longer times 1 query instead of --sparse-queries",
    )
    sparse.add_argument(
        "--sparse-budget-minutes", type=float, default=60.0, help="per N, for measuring the sparse rows (once loaded)"
    )

    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    out.add_argument("--name", default="scale", help="file name stem of the JSON and PNG")
    out.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    out.add_argument(
        "--merge",
        action="store_true",
        help="keep the other sizes of an earlier results JSON of the same --name (to run one N at a time)",
    )
    out.add_argument("--replot", type=Path, metavar="JSON", help="only redraw the PNG beside this results JSON")
    args = parser.parse_args(argv)
    if 0 not in args.depths:
        args.depths = [0, *args.depths]
    if args.queries < 1 or args.timed_calls < 1:
        parser.error("--queries and --timed-calls must be at least 1")
    if args.sparse_queries < 1 or args.sparse_timed_calls < 1:
        parser.error("--sparse-queries and --sparse-timed-calls must be at least 1")
    if 0 not in args.sparse_depths:
        args.sparse_depths = [0, *args.sparse_depths]
    args.progress = not args.no_progress
    args.cache_dir = args.cache_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        from bench.scale_report import plot

        error = plot(json.loads(args.replot.read_text()), args.replot.with_suffix(".png"))
        print(error or f"wrote {args.replot.with_suffix('.png')}")
        return 1 if error else 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.celery:
        # Before Django starts: tasks the service enqueues must reach the bench's worker.
        os.environ["CELERY_BROKER_URL"] = args.celery_broker
    else:
        # No worker would run the refills the service queues: `next` refills by itself.
        os.environ.setdefault("VECSITE_RESUMABLE_BACKGROUND_REFILL", "0")
    started = time.time()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    db_info = setup_django(args.cache_dir / "pgdata", force_pgdata=True)
    args.shared_database = db_info["database"] != "embedded"

    from bench.scale_data import prepare_size
    from bench.scale_sparse import prepare_sparse, sparse_sizes

    report: dict[str, Any] = {
        "schema": 1,
        "benchmark": "resumable queries at scale",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python -m bench.scale", *(sys.argv[1:] if argv is None else argv)]),
        "parameters": parameters(args),
        "database": db_info,
        "cache_dir": str(args.cache_dir),
        "machine": machine_info(),
        "versions": software_versions(),
        "sizes": {},
        "notes": [],
    }
    if args.merge:
        merge_earlier(report, args)
    if args.load_only:
        for n in args.sizes:
            data = prepare_size(args, n)
            report["sizes"][str(n)] = {"data": data.report}
            if n in sparse_sizes(args):
                report["sizes"][str(n)]["sparse_data"] = prepare_sparse(args, data)[1]
        print(json.dumps(report["sizes"], indent=1, default=str))
        return 0
    from bench.scale_run import run_sizes

    return run_sizes(args, report, started)


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings

    from bench.data import HNSW_EF_CONSTRUCTION, HNSW_M, NOISE
    from bench.scale_sparse import sparse_sizes

    keys = (
        "sizes dim clusters seed queries depths timed_calls advance walk_depth walk_queries recall_k recall_page "
        "drain_vectors drain_page plain_query_reps filtered_calls baseline_queries baseline_pages budget_minutes "
        "celery celery_broker celery_concurrency copy_chunk maintenance_work_mem"
    ).split()
    out: dict[str, Any] = {key: getattr(args, key) for key in keys}
    out.update(
        noise=NOISE,
        similarity="COSINE",
        hnsw={"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": settings.VECSITE_HNSW_EF_SEARCH},
        exact_search_max_vectors=settings.VECSITE_EXACT_SEARCH_MAX_VECTORS,
        background_refill=getattr(settings, "VECSITE_RESUMABLE_BACKGROUND_REFILL", None),
        ann_max_fraction=getattr(settings, "VECSITE_RESUMABLE_ANN_MAX_FRACTION", None),
        filtered=not args.no_filtered,
        baselines=not args.no_baselines,
        milvus=args.milvus,
        sparse={
            "sizes": sparse_sizes(args),
            **{key: getattr(args, f"sparse_{key}") for key in "vocab queries depths timed_calls slow_start".split()},
            "budget_minutes": args.sparse_budget_minutes,
            "advance": args.advance,
            "plain_query_reps": args.plain_query_reps,
            "fusion": "RRF",
            "weightings": ["none", "IDF"],
        },
    )
    return out


def merge_earlier(report: dict[str, Any], args: argparse.Namespace) -> None:
    """Carry over the sizes this run does not measure from the earlier JSON of that name."""
    path = args.output_dir / f"{args.name}.json"
    if not path.exists():
        return
    earlier = json.loads(path.read_text())
    kept = {n: size for n, size in earlier.get("sizes", {}).items() if int(n) not in args.sizes}
    report["sizes"].update(kept)
    if kept:
        report["notes"].append(
            f"N = {', '.join(kept)} carried over from the run of {earlier.get('generated_at')} (--merge)"
        )


def write_report(report: dict[str, Any], args: argparse.Namespace) -> tuple[Path, Path | None]:
    """The JSON (atomically) and the PNG; called after every N so a long run keeps its figures."""
    from bench.scale_report import plot

    args.output_dir.mkdir(parents=True, exist_ok=True)
    report["sizes"] = dict(sorted(report["sizes"].items(), key=lambda item: int(item[0])))
    json_path = args.output_dir / f"{args.name}.json"
    png_path = args.output_dir / f"{args.name}.png"
    error = plot(report, png_path)
    report["plot_error"] = error
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str) + "\n")
    tmp.replace(json_path)
    return json_path, None if error else png_path


if __name__ == "__main__":
    sys.exit(main())
