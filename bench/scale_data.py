"""The scale bench's data per N: generated once into the cache directory, loaded once
with COPY into the cache's database, and found again by fingerprint on later runs."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.data import DataSet, SparseSet, cached_vectors, fingerprint, make_queries
from bench.load import cached_index, copy_load


@dataclass
class SizeData:
    """One N: its main data set (namespace "" of an index of its own), the data set its
    drain empties (the main one when N <= --drain-vectors, else a shared drain index),
    the query vectors, and how each was obtained."""

    n: int
    main: DataSet
    main_index: Any
    drain: DataSet
    drain_index: Any
    queries: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)


def main_fingerprint(args: argparse.Namespace, n: int) -> str:
    return fingerprint("scale", args.seed, n, args.dim, args.clusters)


def ensure_loaded(args: argparse.Namespace, label: str, fp: str, seed: int, n: int) -> tuple[DataSet, Any, dict]:
    """The data set `label` of n vectors: vectors from the .npy cache (or generated), the
    index from the database (or COPY-loaded). Nothing is reloaded while the fingerprint,
    the namespace's vector count and the HNSW index all match."""
    name = f"scale-{label}-{fp}"
    report: dict[str, Any] = {"index": name, "fingerprint": fp, "vectors": n}
    t0 = time.perf_counter()
    vectors, labels, from_cache = cached_vectors(args.cache_dir / "data", fp, seed, n, args.dim, args.clusters)
    report["vectors_file"] = "cached" if from_cache else "generated"  # deterministic: --fresh keeps it
    report["generate_seconds"] = round(time.perf_counter() - t0, 2)
    index = load_or_find(args, name, vectors, labels, report)
    return DataSet(name, "", vectors, labels, fp), index, report


def load_or_find(
    args: argparse.Namespace,
    name: str,
    vectors: np.ndarray,
    labels: np.ndarray,
    report: dict[str, Any],
    *,
    index_type: str = "DENSE",
    sparse: SparseSet | None = None,
) -> Any:
    """Index `name` (namespace "" holding row i of `vectors`, and of `sparse` for a SPARSE
    or HYBRID index, as key v<i>) from the database if it matches, else COPY-loaded; how
    long the load took goes into `report` (and beside the cache, for later runs)."""
    n = len(vectors)
    index = None if args.fresh or args.shared_database else cached_index(name, {"": n})
    record = args.cache_dir / "loads" / f"{name}.json"
    if index is not None:
        report["cached"] = True
        # How long it took when it was loaded (a cached run measures no load of its own).
        report["load"] = json.loads(record.read_text()) if record.exists() else None
        print(f"  {name}: cached ({n:,} vectors)")
        return index
    index, load = copy_load(
        name,
        args.dim,
        {"": (vectors, labels)},
        progress=args.progress,
        chunk=args.copy_chunk,
        maintenance_work_mem=args.maintenance_work_mem,
        workers=args.build_workers,
        index_type=index_type,
        sparse=sparse,
    )
    report.update(cached=False, load=load)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({**load, "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1) + "\n")
    return index


def prepare_size(args: argparse.Namespace, n: int) -> SizeData:
    print(f"data for N = {n:,}:", flush=True)
    main, main_index, main_report = ensure_loaded(args, str(n), main_fingerprint(args, n), args.seed, n)
    report: dict[str, Any] = {"main": main_report}
    if n <= args.drain_vectors:
        drain, drain_index = main, main_index
        report["drain"] = {"index": main.name, "note": "the whole main namespace"}
    else:
        drain_fp = fingerprint("scale-drain", args.seed + 1, args.drain_vectors, args.dim, args.clusters)
        drain, drain_index, report["drain"] = ensure_loaded(args, "drain", drain_fp, args.seed + 1, args.drain_vectors)
    queries = make_queries(args.seed, args.queries, args.dim, args.clusters)
    return SizeData(n, main, main_index, drain, drain_index, queries, report)
