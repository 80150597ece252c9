"""What a resumable query must beat: paging in SQL (OFFSET, and keyset on the distance)
through the same HNSW index, and Milvus Lite's search_iterator on the same vectors."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import HNSW_EF_CONSTRUCTION, HNSW_M, exact_top_k
from bench.env import vector_literal
from bench.stats import NO_DEADLINE, Deadline, add_ratios, summary


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
            nodes.append(node["Node Type"] + (f" ({node['Index Name']})" if node.get("Index Name") else ""))
            node = (node.get("Plans") or [None])[0]
        return " > ".join(nodes)


def measure_baselines(
    baseline: SqlBaseline,
    vectors: np.ndarray,
    queries: np.ndarray,
    depths: list[int],
    *,
    pages: int,
    progress: bool,
    deadline: Deadline = NO_DEADLINE,
) -> dict[str, Any]:
    """`pages` consecutive pages of 10 per query and depth, by OFFSET and by keyset on the
    distance (starting from the exact distance of the row at that depth)."""
    from tqdm import tqdm

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
    deepest = max(depths)
    truths = exact_top_k(vectors, queries, deepest) if deepest > 0 else [np.array([], dtype=np.int64)] * len(queries)
    measured = 0
    with tqdm(total=len(queries) * len(depths), desc="OFFSET/keyset SQL", disable=not progress, leave=False) as bar:
        for q, truth in zip(queries, truths, strict=True):
            if deadline.passed:
                break
            literal = vector_literal(q)
            for depth in depths:
                for page in range(pages):
                    ms, rows = baseline.offset_page(literal, depth + 10 * page)
                    offset[depth].append(ms)
                    short["offset"][depth] += len(rows) < 10
                last = -1.0
                if depth > 0:
                    last = 1.0 - float(
                        np.asarray(vectors[int(truth[depth - 1])], dtype=np.float64) @ q.astype(np.float64)
                    )
                for _ in range(pages):
                    ms, rows = baseline.keyset_page(literal, last)
                    keyset[depth].append(ms)
                    short["keyset"][depth] += len(rows) < 10
                    if rows:
                        last = max(r[1] for r in rows)
                bar.update(1)
            measured += 1
    result: dict[str, Any] = {}
    for name, samples in (("offset", offset), ("keyset", keyset)):
        rows_out = []
        for depth in depths:
            row = {"depth": depth, **summary(samples[depth]), "short_pages": short[name][depth]}
            row["samples_ms"] = [round(s, 3) for s in samples[depth]]
            rows_out.append(row)
        add_ratios(rows_out)
        result[name] = {"rows": rows_out, "queries_measured": measured}
    result["settings"] = {
        "hnsw.ef_search": baseline.ef_search,
        "hnsw.iterative_scan": "relaxed_order",
        "hnsw.max_scan_tuples": baseline.max_scan_tuples,
        "hnsw.scan_mem_multiplier": baseline.scan_mem_multiplier,
        "enable_sort": "off" if baseline.force_index else "on",
        "pages_per_depth": pages,
    }
    result["plans"] = baseline.plans
    return result


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
    for name in [*logging.root.manager.loggerDict, "pymilvus", "milvus_lite", "grpc", "grpc._server"]:
        if name.startswith(("pymilvus", "milvus_lite")):
            logging.getLogger(name).setLevel(logging.ERROR)
        if name.startswith("grpc"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


ITERATOR_V1_NOTE = (
    "Search Iterator V1: milvus-lite has no server-side iterator (V2), so pymilvus pages by "
    "range searches, widening a distance band past the last page up to 20 times per next(). "
    "Milvus Lite 3.2.2's range search only finds rows among roughly the 500 nearest (checked "
    "by hand: a band over ranks 505-1500 gives 15 rows at ef=100 and 0 at ef=1000, one over "
    "ranks 600-1500 gives 0), so the iterator reports exhaustion after about 500 results "
    "although more remain"
)


def _milvus_collection(client: Any, vectors: np.ndarray, fresh: bool, progress: bool) -> bool:
    """Load the vectors into collection "bench" unless it already holds them; True if cached."""
    from pymilvus import DataType
    from tqdm import tqdm

    n = len(vectors)
    if client.has_collection("bench") and not fresh:
        if int(client.get_collection_stats("bench").get("row_count", -1)) == n:
            return True
    if client.has_collection("bench"):
        client.drop_collection("bench")
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    index_params = client.prepare_index_params()
    params = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
    index_params.add_index(field_name="v", index_type="HNSW", metric_type="COSINE", params=params)
    client.create_collection("bench", schema=schema, index_params=index_params)
    with tqdm(total=n, desc="load milvus-lite", unit="vec", disable=not progress, leave=False) as bar:
        for start in range(0, n, 2_000):
            stop = min(start + 2_000, n)
            client.insert("bench", [{"id": i, "v": np.asarray(vectors[i]).tolist()} for i in range(start, stop)])
            bar.update(stop - start)
    client.flush("bench")
    return False


def measure_milvus(
    path: Path,
    vectors: np.ndarray,
    queries: np.ndarray,
    depths: Sequence[int],
    *,
    timed_calls: int,
    recall_k: int,
    ef_search: int,
    budget: float,
    fresh: bool,
    progress: bool,
) -> dict[str, Any]:
    """Load the vectors into a Milvus Lite file (cached), then walk each query's
    search_iterator(batch_size=10) down through the depths, timing next() at each."""
    from tqdm import tqdm

    result: dict[str, Any] = {"versions": milvus_versions()}
    try:
        from pymilvus import MilvusClient
    except Exception as error:  # not installed, or broken
        result.update(status="unavailable", error=f"{type(error).__name__}: {error}")
        return result
    quiet_milvus_logs()
    path.parent.mkdir(parents=True, exist_ok=True)
    client = None
    try:
        load_started = time.perf_counter()
        client = MilvusClient(str(path))
        cached = _milvus_collection(client, vectors, fresh, progress)
        client.load_collection("bench")
        result["load"] = {"cached": cached, "seconds": round(time.perf_counter() - load_started, 2)}
        print(f"  milvus-lite: {'cached' if cached else 'loaded'} ({result['load']['seconds']} s)")
        samples: dict[int, list[float]] = {d: [] for d in depths}
        reached, walk_seconds, recalls = [], [], []
        search_params = {"metric_type": "COSINE", "params": {"ef": ef_search}}
        truths = exact_top_k(vectors, queries, recall_k)
        iterator: Any = None
        for qi, q in enumerate(tqdm(queries, desc="milvus search_iterator", disable=not progress, leave=False)):
            t_walk = time.perf_counter()
            iterator = client.search_iterator(
                "bench", data=[q.tolist()], batch_size=10, anns_field="v", search_params=search_params
            )
            quiet_milvus_logs()
            got: list[int] = []
            exhausted = over_budget = False
            for depth in depths:
                while len(got) < depth and not exhausted and not over_budget:
                    page = iterator.next()
                    exhausted = not page
                    got.extend(int(hit["id"]) for hit in page)
                    over_budget = time.perf_counter() - t_walk > budget
                if exhausted or over_budget or len(got) < depth:
                    break
                for _ in range(timed_calls):
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
            if len(got) >= recall_k:
                recalls.append(len(set(truths[qi].tolist()).intersection(got[:recall_k])) / recall_k)
        rows = []
        for depth in depths:
            row = {
                "depth": depth,
                **summary(samples[depth]),
                "queries_reaching": len(samples[depth]) // max(1, timed_calls),
            }
            row["samples_ms"] = [round(s, 3) for s in samples[depth]]
            rows.append(row)
        add_ratios(rows)
        result.update(
            status="ok",
            rows=rows,
            reached=reached,
            deepest_reached=max((r["returned"] for r in reached), default=0),
            reached_all_depths=all(r["queries_reaching"] == len(queries) for r in rows),
            walk_seconds=[round(s, 2) for s in walk_seconds],
            recall_first_k={
                "k": recall_k,
                "queries": len(recalls),
                "mean": round(float(np.mean(recalls)), 5) if recalls else None,
                "min": round(float(np.min(recalls)), 5) if recalls else None,
            },
            settings={"index": "HNSW", "M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "ef": ef_search},
            iterator=type(iterator).__module__ + "." + type(iterator).__name__,
            iterator_note=ITERATOR_V1_NOTE if type(iterator).__name__ == "SearchIterator" else "Search Iterator V2",
        )
    except Exception as error:
        result.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
        print(f"  milvus-lite failed: {result['error']}")
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
    return result
