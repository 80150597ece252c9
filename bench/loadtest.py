"""The load and fault suite: concurrent clients against a real multi-worker gunicorn and a
real Celery worker, first undisturbed, then while a web worker is killed, the Celery
worker restarted and the database stopped and started again.

    python -m bench.loadtest                    # 32 clients, 60 s a phase, every fault
    python -m bench.loadtest --clients 4 --seconds 5 --faults worker-kill
    python -m bench.loadtest --compare sync:4,gthread:2x8 --faults none

It passes (exit status 0) when no request got a 5xx other than the expected 503s, every
error answer was the JSON envelope, no handle returned an id twice, every uninterrupted
drain returned its namespace exactly once, and every upsert the server acknowledged can
be fetched at the end. Figures (throughput, p50/p95/p99 per operation and phase, time to
recover from each fault) go to bench/results/loadtest.json and loadtest.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.env import RESULTS_DIR, VAR_DIR, database_url, display_path, machine_info, setup_django
from bench.load_clients import Shared, run_clients
from bench.load_faults import FAULTS, Targets, inject
from bench.load_report import phase_summary, plot, recovery
from bench.load_servers import CeleryWorker, Gunicorn, WebConfig, child_env

DIMENSION = 32
LIVE_SEED_VECTORS = 1_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase in seconds (default 60)")
    parser.add_argument(
        "--faults",
        default=",".join(FAULTS),
        help=f"faults to inject after the undisturbed phase, one phase each: {', '.join(FAULTS)} or none (default all)",
    )
    parser.add_argument("--web", default="gthread:2x8", help="gunicorn CLASS:WORKERS[xTHREADS] (default gthread:2x8)")
    parser.add_argument(
        "--compare",
        default="",
        help="also run the undisturbed phase with each of these gunicorn configurations, comma-separated "
        "(e.g. sync:2,sync:4,gthread:2x8), and report them side by side",
    )
    parser.add_argument(
        "--static-vectors", type=int, default=1000, help="vectors in the namespace the drains read (default 1000)"
    )
    parser.add_argument("--page", type=int, default=50, help="topK and additionalK of the drains (default 50)")
    parser.add_argument("--db-outage", type=float, default=5.0, help="seconds the database stays down (default 5)")
    parser.add_argument(
        "--recovery-grace",
        type=float,
        default=10.0,
        help="seconds after the database is back in which 503s are still accepted (default 10)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR, help="where loadtest.json/.png go")
    parser.add_argument("--run-dir", type=Path, default=VAR_DIR / "loadtest", help="logs, the broker's folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.fault_list = [] if args.faults in ("", "none") else [f.strip() for f in args.faults.split(",")]
    for fault in args.fault_list:
        if fault not in FAULTS:
            parser.error(f"--faults: unknown fault {fault!r} (choose from {', '.join(FAULTS)})")
    try:
        args.web_config = WebConfig.parse(args.web)
        args.compare_configs = [WebConfig.parse(c) for c in args.compare.split(",") if c.strip()]
    except ValueError as error:
        parser.error(str(error))
    return args


def exact_search_max(args: argparse.Namespace) -> int:
    """Half the drained namespace: above it namespaces use HNSW, so drains go through the
    index, its exact phase and the Celery worker's background refills, as large ones do."""
    return args.static_vectors // 2


def seed_index(name: str, static_vectors: int, rng: np.random.Generator) -> tuple[Any, str, frozenset[str]]:
    """A throwaway index: a static namespace the drains read (never written during the run)
    and a live one the upserts write to."""
    from search.services.indexes import IndexSpec, index_create
    from search.services.records import RecordInput
    from search.services.vectors import vectors_upsert

    credentials = index_create(IndexSpec(name=name, dimension=DIMENSION, similarity="COSINE"))
    index = credentials.index
    static = [f"s{i}" for i in range(static_vectors)]
    for namespace, ids in (("static", static), ("live", [f"seed{i}" for i in range(LIVE_SEED_VECTORS)])):
        vectors = rng.normal(size=(len(ids), DIMENSION))
        records = [RecordInput(id=i, vector=v.tolist()) for i, v in zip(ids, vectors, strict=True)]
        vectors_upsert(index=index, namespace=namespace, records=records)
    return index, credentials.token, frozenset(static)


async def run_phase(
    shared: Shared, args: argparse.Namespace, name: str, fault: str | None, targets: Targets | None
) -> dict[str, Any]:
    shared.phase = name
    started_at, first = shared.now(), len(shared.samples)
    ticker = asyncio.create_task(progress(shared, name, args))
    clients = asyncio.create_task(run_clients(shared, args.clients, args.seconds, args.seed))
    fault_report: dict[str, Any] = {}
    if fault and targets:
        fault_report = await asyncio.to_thread(inject, fault, targets, shared, args.seconds / 4)
    await clients
    ticker.cancel()
    samples = shared.samples[first:]
    summary = phase_summary(samples, shared.now() - started_at)
    if fault_report.get("back_at") is not None:
        fault_report["recovery"] = recovery(samples, fault_report["events"][0]["at"], fault_report["back_at"])
        fault_report["back_at"] = round(fault_report["back_at"], 3)
    return {"started_at": round(started_at, 3), **summary, **({"fault": fault_report} if fault else {})}


async def progress(shared: Shared, name: str, args: argparse.Namespace) -> None:
    first = len(shared.samples)
    with tqdm(total=int(args.seconds), desc=f"{name:>14}", unit="s", disable=args.no_progress) as bar:
        while True:
            await asyncio.sleep(1)
            bar.update(1)
            bar.set_postfix(requests=len(shared.samples) - first, problems=len(shared.violations))


async def verify_writes(shared: Shared) -> dict[str, Any]:
    """Fetch every acknowledged id over HTTP: each must be there, with its last metadata."""
    import httpx

    ids = sorted(shared.acknowledged)
    lost: list[str] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for start in range(0, len(ids), 1000):
            batch = ids[start : start + 1000]
            response = await http.post(
                f"{shared.base_url}/v1/fetch/{shared.live_namespace}",
                json={"ids": batch, "includeMetadata": True},
                headers={"Authorization": f"Bearer {shared.token}"},
            )
            response.raise_for_status()
            for id_, record in zip(batch, response.json()["result"], strict=True):
                if record is None or record.get("metadata", {}).get("seq") != shared.acknowledged[id_]:
                    lost.append(id_)
    for id_ in lost[:20]:
        shared.violation(f"acknowledged upsert {id_} is not fetchable as written")
    return {"acknowledged": len(ids), "lost": len(lost)}


def start_servers(config: WebConfig, env: dict[str, str], run_dir: Path) -> tuple[Gunicorn, float]:
    web = Gunicorn(config, env, run_dir / f"gunicorn-{config}.log".replace(":", "-"))
    return web, web.wait_ready()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from search.models import Index
    from search.services.indexes import index_delete

    run_dir = args.run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    name = f"loadtest-{os.getpid()}"
    index, token, static_ids = seed_index(name, args.static_vectors, np.random.default_rng(args.seed))
    extra = {"VECSITE_EXACT_SEARCH_MAX_VECTORS": str(exact_search_max(args))}
    env = child_env(database_url(), "filesystem://localhost/", run_dir, extra)
    report: dict[str, Any] = {"phases": {}, "compare": {}}
    celery = CeleryWorker(env, run_dir / "celery.log")
    web: Gunicorn | None = None
    try:
        report["celery_ready_s"] = round(celery.wait_ready(), 3)
        for config in args.compare_configs:
            print(f"comparing gunicorn {config}")
            web, ready = start_servers(config, env, run_dir)
            shared = Shared(web.url, token, DIMENSION, "static", static_ids, "live", page=args.page)
            phase = asyncio.run(run_phase(shared, args, f"steady {config}", None, None))
            report["compare"][str(config)] = {"ready_s": round(ready, 3), **phase, "violations": shared.violations}
            web.stop()
        web, ready = start_servers(args.web_config, env, run_dir)
        report["web_ready_s"] = round(ready, 3)
        shared = Shared(web.url, token, DIMENSION, "static", static_ids, "live", page=args.page)
        targets = Targets(web, celery, args.db_outage, args.recovery_grace, not os.environ.get("DATABASE_URL"))
        report["phases"]["steady"] = asyncio.run(run_phase(shared, args, "steady", None, None))
        for fault in args.fault_list:
            report["phases"][fault] = asyncio.run(run_phase(shared, args, fault, fault, targets))
        shared.phase = "verify"
        report["writes"] = asyncio.run(verify_writes(shared))
        report["drains"], report["duplicate_ids"] = shared.drains, shared.duplicates
        report["violations"] = shared.violations
        report["plotted"] = plot_to(report, shared, args)
    finally:
        if web is not None:
            web.stop()
        celery.stop()
        from django.db import connection

        connection.close()  # after a database restart, the old connection is gone
        if Index.objects.filter(pk=index.pk).exists():
            index_delete(index=Index.objects.get(pk=index.pk))
    return report


def plot_to(report: dict[str, Any], shared: Shared, args: argparse.Namespace) -> str | None:
    path = args.output_dir / "loadtest.png"
    report["parameters"] = parameters(args)
    return display_path(path) if plot(report, shared.samples, path) else None


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "faults": args.fault_list,
        "web": str(args.web_config),
        "compare": [str(c) for c in args.compare_configs],
        "db_outage_s": args.db_outage,
        "recovery_grace_s": args.recovery_grace,
        "page": args.page,
        "dimension": DIMENSION,
        "static_vectors": args.static_vectors,
        "exact_search_max_vectors": exact_search_max(args),
        "seed": args.seed,
    }


def passed(report: dict[str, Any]) -> bool:
    return not report["violations"] and report["duplicate_ids"] == 0 and report["writes"]["lost"] == 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = setup_django(args.run_dir / "pgdata", force_pgdata=True)
    return 0 if run_and_report(args, database)["passed"] else 1


def run_and_report(args: argparse.Namespace, database: dict[str, Any]) -> dict[str, Any]:
    """Run the suite; write loadtest.json (and the plot) to the output folder; return it."""
    args.output_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    report = run(args)
    report = {
        "parameters": parameters(args),
        "passed": passed(report),
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine_info(),
        "database": database,
        **report,
    }
    path = args.output_dir / "loadtest.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print_summary(report, path)
    return report


def print_summary(report: dict[str, Any], path: Path) -> None:
    for name, phase in {**report["compare"], **report["phases"]}.items():
        ops = phase["operations"]
        figures = ", ".join(
            f"{op} {ops[op]['per_second']}/s p50 {ops[op]['p50_ms']} p99 {ops[op]['p99_ms']}" for op in ops
        )
        print(f"{name}: {phase['ok_per_second']} ok/s, {phase['non_200']} non-200 ({figures})")
        if "fault" in phase:
            print(f"  fault: {json.dumps({k: v for k, v in phase['fault'].items() if k != 'events'})}")
    writes = report["writes"]
    print(f"acknowledged upserts {writes['acknowledged']}, lost {writes['lost']}; drains {report['drains']}")
    print(f"duplicate ids {report['duplicate_ids']}; violations {len(report['violations'])}")
    for line in report["violations"][:20]:
        print(f"  {line}")
    print(f"{'PASSED' if report['passed'] else 'FAILED'}; report: {display_path(path)}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
