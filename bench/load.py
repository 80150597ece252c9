"""Loading bench data into indexes, and finding it again on a later run.

Two loaders: `load_index` goes through the service (`vectors_upsert`, batches of 1,000),
which is fine up to about 100,000 vectors; `copy_load` writes `search_vector` rows with a
binary COPY (a million vectors in minutes instead of an hour) while keeping what the
service relies on: index and namespace, keys `v<i>` in insertion order, each row's number
in its namespace, the metadata, and the namespace's `vector_count` and `last_number`.
Both drop the index's partial HNSW index before loading and build it once afterwards,
from the definition read back from `pg_indexes`, so the index is exactly the one the
service made.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.data import SparseSet, metadata
from bench.env import db_scalar

# Parts of an index to load: namespace -> (vectors, labels).
Parts = Mapping[str, tuple[np.ndarray, np.ndarray]]


def hnsw_index_exists(index_pk: int) -> bool:
    return bool(db_scalar("SELECT count(*) FROM pg_indexes WHERE indexname = %s", [f"search_vector_hnsw_{index_pk}"]))


def cached_index(name: str, namespaces: Mapping[str, int]) -> Any | None:
    """The index `name` if it holds exactly these namespaces' counts (and its HNSW index)."""
    from search.models import Index, Namespace

    index = Index.objects.filter(name=name).first()
    if index is None:
        return None
    for ns_name, count in namespaces.items():
        ns = Namespace.objects.filter(index=index, name=ns_name).first()
        if ns is None or ns.vector_count != count:
            return None
    return index if not index.has_dense or hnsw_index_exists(index.pk) else None


def delete_bench_indexes(keep: set[str], *, only: set[str] | None = None, prefix: str = "bench-") -> list[str]:
    """Delete `prefix`* indexes (all stale ones on the bench's own database; only ours elsewhere)."""
    from search.models import Index
    from search.services.indexes import index_delete

    deleted = []
    for index in Index.objects.filter(name__startswith=prefix):
        if index.name in keep or (only is not None and index.name not in only):
            continue
        index_delete(index=index)
        deleted.append(index.name)
    return deleted


def create_index(name: str, dim: int, index_type: str = "DENSE") -> Any:
    """A fresh index `name` (an older one of that name is deleted first)."""
    from search.models import Index
    from search.services.indexes import IndexSpec, index_create, index_delete

    existing = Index.objects.filter(name=name).first()
    if existing is not None:
        index_delete(index=existing)
    spec = IndexSpec(name=name, dimension=dim, similarity="COSINE", index_type=index_type, max_active_queries=10_000)
    return index_create(spec).index


def drop_hnsw(index: Any) -> str | None:
    """Drop the index's partial HNSW index; returns its definition, to build it again."""
    from django.db import connection

    definition = db_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index.hnsw_index_name])
    if definition is not None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {index.hnsw_index_name}")
    return definition


def build_hnsw(definition: str, *, maintenance_work_mem: str = "2GB", workers: int | None = None) -> float:
    """Build an HNSW index from its saved definition, in memory and in parallel; seconds."""
    from django.db import connection

    workers = max(0, (os.cpu_count() or 1) - 1) if workers is None else workers
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        cursor.execute("SET max_parallel_maintenance_workers = %s", [workers])
        try:
            cursor.execute(definition)
        finally:
            cursor.execute("RESET maintenance_work_mem")
            cursor.execute("RESET max_parallel_maintenance_workers")
    return time.perf_counter() - started


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_vector")


def vacuum(*, analyze: bool = False) -> float:
    """VACUUM search_vector (outside a transaction); quick when every page is all-visible."""
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) search_vector" if analyze else "VACUUM search_vector")
    return time.perf_counter() - t0


def load_index(
    name: str,
    dim: int,
    parts: Parts,
    *,
    mode: str,
    batch: int,
    progress: bool,
    index_type: str = "DENSE",
    sparse: SparseSet | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Create index `name` and load each namespace's vectors through vectors_upsert (a
    SPARSE index takes `sparse`'s rows only; a HYBRID one each vector plus its sparse row)."""
    from tqdm import tqdm

    from search.services.records import RecordInput
    from search.services.vectors import vectors_upsert

    index = create_index(name, dim, index_type)
    started = time.perf_counter()
    mode = mode if index.has_dense else "no HNSW (SPARSE)"
    report: dict[str, Any] = {"mode": mode, "batch": batch, "index_type": index_type}
    definition = drop_hnsw(index) if mode == "rebuild" else None
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
                        metadata=metadata(i, labels[i]),
                    )
                    for i in range(start, stop)
                ]
                vectors_upsert(index=index, namespace=namespace, records=records)
                bar.update(stop - start)
    report["insert_seconds"] = round(time.perf_counter() - started, 2)
    if definition is not None:
        report["index_build_seconds"] = round(build_hnsw(definition), 2)
    analyze()
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    report["vectors"] = total
    return index, report


def ensure_index(
    name: str,
    dim: int,
    parts: Parts,
    *,
    fresh: bool,
    shared_database: bool,
    load_mode: str,
    batch: int,
    progress: bool,
    index_type: str = "DENSE",
    sparse: SparseSet | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The cached index if it matches (on the bench's own database), else a fresh load."""
    counts = {ns: len(v) for ns, (v, _) in parts.items()}
    if not fresh and not shared_database:
        index = cached_index(name, counts)
        if index is not None:
            print(f"  {name}: cached ({', '.join(f'{ns or chr(34) * 2}={n}' for ns, n in counts.items())})")
            return index, {"cached": True}
    index, report = load_index(
        name, dim, parts, mode=load_mode, batch=batch, progress=progress, index_type=index_type, sparse=sparse
    )
    report["cached"] = False
    print(f"  {name}: loaded {report['vectors']} vectors in {report['total_seconds']} s ({load_mode})")
    return index, report


def copy_rows(
    index: Any,
    namespace: str,
    vectors: np.ndarray,
    labels: np.ndarray,
    start: int,
    stop: int,
    sparse: SparseSet | None = None,
) -> int:
    """COPY rows start..stop of one namespace (all new keys) in one transaction, under the
    namespace's row lock as vectors_upsert takes it: each row gets the namespace's next
    number, and its vector_count and last_number move on with the rows. A SPARSE index
    gets `sparse`'s rows and no embedding; a HYBRID one both. The sparse columns are
    written with the service's own codec (the sparsevec and its non-zero indices, which
    the GIN index is over), as vectors_upsert writes them."""
    from django.db import connection, transaction
    from django.db.models import F
    from pgvector.psycopg.sparsevec import register_sparsevec_info
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo
    from psycopg.types.json import Jsonb

    from search.models import Namespace
    from search.services import sparse as sparse_codec
    from search.services.namespaces import namespace_lock

    columns, types = ["index_id", "namespace_id", "key", "number"], ["int8", "int8", "text", "int8"]
    if index.has_dense:
        columns, types = [*columns, "embedding"], [*types, "vector"]
    if index.has_sparse:
        assert sparse is not None, f"a {index.index_type} index needs sparse rows"
        columns, types = [*columns, "sparse", "sparse_indices"], [*types, "sparsevec", "int4[]"]
    count = stop - start
    with transaction.atomic():
        ns = namespace_lock(index=index, name=namespace, create=True)
        assert ns is not None
        first = ns.last_number + 1
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # the psycopg cursor under Django's wrapper
            # pgvector's binary dumpers, registered on this cursor only (not Django's connection).
            register_vector_info(cursor, TypeInfo.fetch(cursor.connection, "vector"))
            register_sparsevec_info(cursor, TypeInfo.fetch(cursor.connection, "sparsevec"))
            sql = f"COPY search_vector ({', '.join(columns)}, metadata) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(sql) as copy:
                copy.set_types([*types, "jsonb"])
                for offset, i in enumerate(range(start, stop)):
                    row: list[Any] = [index.pk, ns.pk, f"v{i}", first + offset]
                    if index.has_dense:
                        row.append(vectors[i])
                    if sparse is not None and index.has_sparse:
                        value = sparse.row(i)
                        row += [sparse_codec.to_db(value), sparse_codec.non_zero_indices(value)]
                    row.append(Jsonb(metadata(i, labels[i])))
                    copy.write_row(row)
        Namespace.objects.filter(pk=ns.pk).update(
            vector_count=F("vector_count") + count, last_number=F("last_number") + count
        )
    return count


def copy_load(
    name: str,
    dim: int,
    parts: Parts,
    *,
    progress: bool,
    chunk: int = 50_000,
    maintenance_work_mem: str = "2GB",
    workers: int | None = None,
    index_type: str = "DENSE",
    sparse: SparseSet | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Create index `name` and load its namespaces with COPY (`chunk` rows per transaction),
    then build its HNSW index (none for SPARSE); the report has the load and build times.
    A SPARSE or HYBRID index takes row i's sparse vector from `sparse`."""
    from tqdm import tqdm

    index = create_index(name, dim, index_type)
    definition = drop_hnsw(index) if index.has_dense else None
    assert definition is not None or not index.has_dense
    total = sum(len(v) for v, _ in parts.values())
    started = time.perf_counter()
    with tqdm(total=total, desc=f"COPY {name}", unit="vec", disable=not progress, smoothing=0.1) as bar:
        for namespace, (vectors, labels) in parts.items():
            for start in range(0, len(vectors), chunk):
                stop = min(start + chunk, len(vectors))
                bar.update(copy_rows(index, namespace, vectors, labels, start, stop, sparse))
    load_seconds = time.perf_counter() - started
    print(f"  {name}: {total:,} rows copied in {load_seconds:.1f} s", flush=True)
    build_seconds = 0.0
    if definition is not None:
        print(f"  {name}: building the HNSW index ...", flush=True)
        build_seconds = build_hnsw(definition, maintenance_work_mem=maintenance_work_mem, workers=workers)
        print(f"  {name}: HNSW built in {build_seconds:.1f} s")
    t0 = time.perf_counter()
    vacuum(analyze=True)  # now, rather than an autovacuum of a million rows in the middle of a measurement
    report = {
        "method": "binary COPY, HNSW built after loading" if definition else "binary COPY (no HNSW: SPARSE)",
        "index_type": index_type,
        "vectors": total,
        "copy_chunk": chunk,
        "load_seconds": round(load_seconds, 2),
        "index_build_seconds": round(build_seconds, 2),
        "vacuum_analyze_seconds": round(time.perf_counter() - t0, 2),
        "maintenance_work_mem": maintenance_work_mem,
        "parallel_maintenance_workers": max(0, (os.cpu_count() or 1) - 1) if workers is None else workers,
        "search_vector_total_size": db_scalar("SELECT pg_size_pretty(pg_total_relation_size('search_vector'))"),
        "hnsw_index_size": db_scalar("SELECT pg_size_pretty(pg_relation_size(%s::regclass))", [index.hnsw_index_name])
        if definition
        else None,
        "sparse_gin_index_size": db_scalar("SELECT pg_size_pretty(pg_relation_size('vector_sparse_indices_gin'))"),
    }
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    return index, report
