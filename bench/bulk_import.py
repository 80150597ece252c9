"""`import_vectors` against the API: the same records loaded both ways, records per second.

    .venv/bin/python -m bench.bulk_import            # 100,000 vectors of 384 dimensions (cached under var/)
    .venv/bin/python -m bench.bulk_import --help

The API series upserts the first `--api-vectors` records over HTTP (a real gunicorn, one
sync worker, batches of 1,000 as the issue measured it, keep-alive client) into a fresh
index; `import_vectors` loads the same records (JSON Lines, and the same vectors as .npy
with ids and metadata files) into fresh indexes, run as the command an operator runs (a
subprocess, wall clock from start to exit, the HNSW build included), and then all
`--vectors` records. Every load is checked: the namespace holds every record and the
index has its HNSW index. See bench/README.md#bulk_importpy-import_vectors-against-the-api.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import FILTER_BUCKETS, cached_vectors, fingerprint
from bench.env import RESULTS_DIR, ROOT, VAR_DIR, database_url, display_path, loadavg, machine_info, setup_django

BENCH_PGDATA = VAR_DIR / "bench-bulk-pgdata"
API_BATCH = 1000
TARGET_RATIO = 10.0
IN_SECONDS = re.compile(r" in ([0-9.]+) s \(")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bulk_import",
        description="Records per second loading the same data through the API (HTTP upserts of 1,000) "
        "and through manage.py import_vectors (JSON Lines and .npy), HNSW index included.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--vectors", type=int, default=100_000, help="records generated; the largest import")
    parser.add_argument(
        "--api-vectors",
        type=int,
        default=10_000,
        help="the first N records, loaded through the API and by import_vectors for the same-data comparison "
        "(the API's rate falls as its index grows, so a small N flatters it)",
    )
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=5000, help="import_vectors --batch-size")
    parser.add_argument("--cache-dir", type=Path, default=VAR_DIR / "bench-bulk", help="generated files")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-large", action="store_true", help="skip the import of all --vectors records")
    args = parser.parse_args(argv)
    if not 0 < args.api_vectors <= args.vectors:
        parser.error("--api-vectors must be between 1 and --vectors")
    return args


@dataclass(frozen=True)
class Files:
    jsonl: Path
    npy: Path
    ids: Path
    metadata: Path


def record(i: int, vector: np.ndarray, label: int) -> dict[str, Any]:
    return {"id": f"v{i}", "vector": vector.tolist(), "metadata": {"cluster": int(label), "bucket": i % FILTER_BUCKETS}}


def write_files(directory: Path, vectors: np.ndarray, labels: np.ndarray) -> Files:
    """The records as JSON Lines, and as .npy + ids + metadata; kept once written."""
    files = Files(
        directory / "records.jsonl", directory / "vectors.npy", directory / "ids.txt", directory / "meta.jsonl"
    )
    if all(path.exists() for path in vars(files).values()):
        return files
    directory.mkdir(parents=True, exist_ok=True)
    with files.jsonl.open("w") as jsonl, files.ids.open("w") as ids, files.metadata.open("w") as metadata:
        for i, (vector, label) in enumerate(zip(vectors, labels, strict=True)):
            item = record(i, vector, label)
            jsonl.write(json.dumps(item) + "\n")
            ids.write(item["id"] + "\n")
            metadata.write(json.dumps(item["metadata"]) + "\n")
    np.save(files.npy, np.ascontiguousarray(vectors, dtype=np.float32))
    return files


def fresh_index(name: str, dim: int) -> Any:
    from search.models import Index
    from search.services.indexes import IndexSpec, index_create, index_delete

    for old in Index.objects.filter(name=name):
        index_delete(index=old)
    return index_create(IndexSpec(name=name, dimension=dim, similarity="COSINE"))


def check_loaded(index: Any, count: int) -> dict[str, Any]:
    """The namespace holds every record, numbered 1..count, and the index its HNSW index."""
    from bench.load import hnsw_index_exists
    from search.models import Namespace, Vector

    ns = Namespace.objects.get(index=index, name="")
    rows = Vector.objects.filter(namespace=ns).count()
    highest = Vector.objects.filter(namespace=ns).order_by("-number").values_list("number", flat=True).first()
    hnsw = hnsw_index_exists(index.pk)
    return {
        "rows": rows,
        "vector_count": ns.vector_count,
        "last_number": ns.last_number,
        "highest_number": highest,
        "hnsw_index": hnsw,
        "ok": rows == ns.vector_count == ns.last_number == highest == count and hnsw,
    }


def api_load(name: str, files: Files, count: int, dim: int) -> dict[str, Any]:
    """Upsert the first `count` lines over HTTP in batches of 1,000; wall clock of the whole."""
    import httpx

    from bench.servers import http_server

    credentials = fresh_index(name, dim)
    lines = files.jsonl.read_bytes().splitlines()[:count]
    bodies = [b"[" + b",".join(lines[start : start + API_BATCH]) + b"]" for start in range(0, count, API_BATCH)]
    headers = {"Authorization": f"Bearer {credentials.token}", "Content-Type": "application/json"}
    batch_seconds = []
    with http_server(credentials.token) as base, httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            response = client.post(f"{base}/upsert", content=body, headers=headers)
            response.raise_for_status()
            batch_seconds.append(round(time.perf_counter() - t0, 3))
        seconds = time.perf_counter() - started
    return {
        "how": "HTTP POST /v1/upsert, batches of 1,000, gunicorn (1 sync worker), HNSW index kept up to date",
        "records": count,
        "seconds": round(seconds, 2),
        "records_per_second": round(count / seconds, 1),
        "batch_seconds": batch_seconds,
        "check": check_loaded(credentials.index, count),
    }


def command_load(name: str, dim: int, argv: list[str], count: int) -> dict[str, Any]:
    """Run `manage.py import_vectors NAME ...argv` as a process; wall clock from start to exit."""
    credentials = fresh_index(name, dim)
    command = [sys.executable, "manage.py", "import_vectors", name, *argv]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return {
        "how": "manage.py import_vectors " + " ".join(display_path(Path(a)) if "/" in a else a for a in argv),
        "records": count,
        "seconds": round(seconds, 2),
        "records_per_second": round(count / seconds, 1),
        # The command's own figure: its load and build, without the process's start-up.
        "seconds_in_command": float(match.group(1)) if (match := IN_SECONDS.search(done.stdout)) else None,
        "output": done.stdout.strip().splitlines(),
        "check": check_loaded(credentials.index, count),
    }


@contextlib.contextmanager
def children_on_this_database() -> Iterator[None]:
    """gunicorn and the command reach the database this process uses (the bench's, or pytest's)."""
    # No statement timeout for the API's upserts: on a busy machine a batch of 1,000 into a
    # large index takes longer than the web default (20 s), and this measures throughput.
    extra = {
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "PYTHONWARNINGS": "ignore::UserWarning",
        "VECSITE_DB_STATEMENT_TIMEOUT": "0",
    }
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(args: argparse.Namespace, *, command: str, database: dict[str, Any]) -> dict[str, Any]:
    from search.models import Index
    from search.services.indexes import index_delete

    fp = fingerprint("bulk", args.seed, args.vectors, args.dim, args.clusters)
    vectors, labels, cached = cached_vectors(args.cache_dir, fp, args.seed, args.vectors, args.dim, args.clusters)
    files = write_files(args.cache_dir / f"files-{fp}", vectors, labels)
    small = write_files(
        args.cache_dir / f"files-{fp}-first-{args.api_vectors}", vectors[: args.api_vectors], labels[: args.api_vectors]
    )
    report: dict[str, Any] = {
        "command": command,
        "parameters": vars(args)
        | {"cache_dir": display_path(args.cache_dir), "output_dir": display_path(args.output_dir)},
        "data": {"fingerprint": fp, "vectors_cached": cached, "jsonl_bytes": files.jsonl.stat().st_size},
        "database": database,
        "machine": machine_info(),
        "runs": {},
    }
    batch = ["--batch-size", str(args.batch_size)]
    plan: list[tuple[str, Any]] = [
        ("api", lambda: api_load("bench-bulk-api", small, args.api_vectors, args.dim)),
        (
            "import_jsonl",
            lambda: command_load("bench-bulk-jsonl", args.dim, [str(small.jsonl), *batch], args.api_vectors),
        ),
        (
            "import_npy",
            lambda: command_load(
                "bench-bulk-npy",
                args.dim,
                [str(small.npy), "--ids", str(small.ids), "--metadata", str(small.metadata), *batch],
                args.api_vectors,
            ),
        ),
    ]
    if not args.no_large and args.vectors > args.api_vectors:
        plan.append(
            (
                "import_jsonl_all",
                lambda: command_load("bench-bulk-all", args.dim, [str(files.jsonl), *batch], args.vectors),
            )
        )
    with children_on_this_database():
        for key, step in plan:
            print(f"{key} ...", flush=True)
            before = loadavg()
            result = step()
            result["loadavg_before"], result["loadavg_after"] = before, loadavg()
            report["runs"][key] = result
            save(report, args.output_dir)  # so far: a run cut short keeps what it measured
            print(
                f"  {result['records']:,} records in {result['seconds']} s: {result['records_per_second']:,} records/s",
                flush=True,
            )
    for index in Index.objects.filter(name__startswith="bench-bulk-"):
        index_delete(index=index)
    api_rate = report["runs"]["api"]["records_per_second"]
    report["ratios_to_api"] = {
        key: round(run["records_per_second"] / api_rate, 1) for key, run in report["runs"].items() if key != "api"
    }
    same_data = report["ratios_to_api"]["import_jsonl"]
    report["target"] = {
        "import_jsonl_over_api": same_data,
        "target": TARGET_RATIO,
        "met": same_data >= TARGET_RATIO,
        "every_load_checked": all(run["check"]["ok"] for run in report["runs"].values()),
    }
    return report


def save(report: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bulk_import.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path


def plot(report: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    labels = {
        "api": "API upsert\n(HTTP, 1,000/batch)",
        "import_jsonl": "import_vectors\nJSON Lines",
        "import_npy": "import_vectors\n.npy",
        "import_jsonl_all": "import_vectors\nJSON Lines, all",
    }
    runs = report["runs"]
    keys = list(runs)
    fig, axis = plt.subplots(figsize=(9, 5))
    colors = ["tab:red" if key == "api" else "tab:blue" for key in keys]
    bars = axis.bar(
        [f"{labels[k]}\n{runs[k]['records']:,} records" for k in keys],
        [runs[k]["records_per_second"] for k in keys],
        color=colors,
    )
    for bar, key in zip(bars, keys, strict=True):
        ratio = report["ratios_to_api"].get(key)
        text = f"{runs[key]['records_per_second']:,.0f}/s" + (f"\n{ratio}x the API" if ratio else "")
        axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    axis.set_ylabel("records per second (HNSW index included)")
    params = report["parameters"]
    axis.set_title(f"Loading {params['dim']}-dimension vectors: the API against import_vectors")
    axis.margins(y=0.2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database = setup_django(BENCH_PGDATA)
    command = " ".join(["python -m bench.bulk_import", *(sys.argv[1:] if argv is None else argv)])
    report = run(args, command=command, database=database)
    save(report, args.output_dir)
    error = plot(report, args.output_dir / "bulk_import.png")
    target = report["target"]
    print(
        f"import_vectors (JSON Lines) {target['import_jsonl_over_api']}x the API's rate on the same "
        f"{args.api_vectors:,} records: target {TARGET_RATIO}x {'MET' if target['met'] else 'NOT MET'}; "
        f"every load checked: {target['every_load_checked']}"
    )
    print(f"wrote {display_path(args.output_dir / 'bulk_import.json')}" + (f" (no plot: {error})" if error else ""))
    return 0 if target["every_load_checked"] else 1


if __name__ == "__main__":
    sys.exit(main())
