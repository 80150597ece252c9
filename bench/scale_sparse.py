"""The scale bench's SPARSE and HYBRID rows (report only: issue 10 sets no target for them yet).

Per N: a SPARSE index and a HYBRID one of N records, record i being v<i> with the Zipf-like
sparse row i of bench/data.py's generator (and, in the HYBRID index, the dense vector i of
that N's data set), COPY-loaded once and found again by fingerprint. Measured with the
scenarios of resumable.py's sparse rows: ordinary query(topK=10), the resumable start
(topK=10), and next(10) at depths 0, 1,000 and 10,000 where the matches reach, for plain
and IDF-weighted SPARSE queries and RRF HYBRID ones.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench.clients import ServiceClient
from bench.data import (
    SPARSE_GENERATOR_VERSION,
    SPARSE_NNZ,
    ZIPF_EXPONENT,
    SparseCase,
    cached_sparse,
    choose_sparse_queries,
    fingerprint,
    sparse_queries,
)
from bench.scale_data import SizeData, load_or_find
from bench.scenarios import measure_ours, measure_plain_query
from bench.sparse import describe_rows, sparse_clients
from bench.stats import NO_DEADLINE, Deadline, phase, reachable_depths

# Where each series' figures go in a size's JSON: size[section]["series"][key].
SERIES = (("sparse", "sparse"), ("sparse", "sparse_idf"), ("hybrid", "hybrid"))


def sparse_sizes(args: argparse.Namespace) -> list[int]:
    """The N that get SPARSE and HYBRID rows (none with --no-sparse)."""
    if args.no_sparse:
        return []
    return [n for n in args.sizes if args.sparse_sizes is None or n in args.sparse_sizes]


def sparse_fingerprint(args: argparse.Namespace, n: int) -> str:
    parts = (SPARSE_GENERATOR_VERSION, ZIPF_EXPONENT, SPARSE_NNZ, args.seed, n, args.sparse_vocab)
    return fingerprint("scale-sparse", *parts, args.dim, args.clusters)


def prepare_sparse(args: argparse.Namespace, data: SizeData) -> tuple[SparseCase, dict[str, Any]]:
    """The N sparse rows (from the .npz cache or generated), the broad queries, and both
    indexes (cached, or COPY-loaded: the SPARSE one without an HNSW index, the HYBRID
    one with it built after loading); returns the case and how each part was obtained."""
    n, fp = data.n, sparse_fingerprint(args, data.n)
    report: dict[str, Any] = {"fingerprint": fp, "records": n, "vocab": args.sparse_vocab}
    t0 = time.perf_counter()
    rows, from_cache = cached_sparse(args.cache_dir / "data", fp, args.seed, n, args.sparse_vocab)
    report["rows_file"] = "cached" if from_cache else "generated"
    report["generate_seconds"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    candidates, chosen, selection = choose_sparse_queries(args.seed, rows, args.sparse_vocab, args.sparse_queries)
    report["choose_queries_seconds"] = round(time.perf_counter() - t0, 2)
    indexes = {}
    for kind in ("SPARSE", "HYBRID"):
        name = f"scale-{kind.lower()}-{n}-{fp}"
        part: dict[str, Any] = {"index": name, "index_type": kind}
        indexes[kind] = load_or_find(
            args, name, data.main.vectors, data.main.labels, part, index_type=kind, sparse=rows
        )
        report[kind.lower()] = part
    case = SparseCase(
        sparse_index=indexes["SPARSE"],
        hybrid_index=indexes["HYBRID"],
        rows=rows,
        queries=sparse_queries(candidates, chosen, data.queries),
        vocab=args.sparse_vocab,
        fingerprint=fp,
        query_selection=selection,
    )
    return case, report


def measure_sparse_size(args: argparse.Namespace, data: SizeData, out: dict[str, Any]) -> None:
    """Load (or find) this N's SPARSE and HYBRID indexes, then measure each series within
    --sparse-budget-minutes; figures go to out["sparse"] and out["hybrid"]."""
    sections: dict[str, dict[str, Any]] = {"sparse": {"series": {}}, "hybrid": {"fusion": "RRF", "series": {}}}
    out.update(sections)
    case = None
    with phase(out["sparse"], "data", NO_DEADLINE) as skipped:
        if not skipped:
            print(f"sparse and hybrid data for N = {data.n:,}:", flush=True)
            case, report = prepare_sparse(args, data)
            hybrid_load = report.pop("hybrid")
            out["sparse"]["data"] = report
            out["hybrid"]["data"] = {**hybrid_load, "records": data.n, "sparse_rows": report["fingerprint"]}
    if case is None:
        return
    deadline = Deadline(args.sparse_budget_minutes * 60)
    matches = [int(case.rows.scores(q.sparse, case.vocab)[1].sum()) for q in case.queries]
    out["sparse"].update(describe_rows(case), matching_per_query=matches)
    clients = sparse_clients(case)
    for section, key in SERIES:
        series = out[section]["series"]
        with phase(series, key, deadline) as skipped:
            if not skipped:
                room = data.n if key == "hybrid" else min(matches)
                series[key] = measure_series(args, clients[key], case, room, deadline, f"N={data.n:,} {key}")


def measure_series(
    args: argparse.Namespace, client: ServiceClient, case: SparseCase, room: int, deadline: Deadline, desc: str
) -> dict[str, Any]:
    """One series: a timed warm-up start (which decides whether to cap the queries), the
    starts and next(10) by depth, and ordinary query(topK=10) for reference."""
    depths = reachable_depths(args.sparse_depths, room, args.sparse_timed_calls)
    t0 = time.perf_counter()
    handle, _ = client.start(case.queries[0], 10)  # also warms the table pages and the GIN index
    warmup_ms = (time.perf_counter() - t0) * 1000
    client.next(handle, 100)
    client.end(handle)
    out: dict[str, Any] = {
        "depths": depths,
        "beyond_matches": [d for d in args.sparse_depths if d not in depths],
        "warmup_start_ms": round(warmup_ms, 1),
        "capped": None,
    }
    queries = case.queries
    if warmup_ms > args.sparse_slow_start * 1000 and len(queries) > 1:
        queries = queries[:1]
        out["capped"] = (
            f"the warm-up start took {warmup_ms / 1000:.1f} s (over --sparse-slow-start {args.sparse_slow_start} s): "
            f"1 query timed instead of {len(case.queries)}"
        )
        print(f"  {desc}: {out['capped']}")
    timing = measure_ours(
        client,
        queries,
        depths,
        timed_calls=args.sparse_timed_calls,
        advance_step=args.advance,
        progress=args.progress,
        desc=f"{desc} start and next(10)",
        deadline=deadline,
    )
    rows = timing["rows"]
    out.update(
        start=timing["start"],
        rows=rows,
        queries_measured=timing["queries_measured"],
        cut_by_budget=timing["cut_by_budget"],
        duplicates_within_handles=sum(r["duplicates_within_handles"] for r in rows),
        short_pages=sum(r["short_pages"] for r in rows),
    )
    out["plain_query"] = measure_plain_query(client, queries, args.plain_query_reps)
    if not client.weighting and not client.index.has_dense:
        out["plain_query"]["top10_vs_brute_force"] = top10_check(client, case, queries)
    return out


def top10_check(client: ServiceClient, case: SparseCase, queries: list[Any]) -> dict[str, Any]:
    """An ordinary SPARSE query is exact: its 10 results must be the 10 largest inner
    products (float64 here, float32 in pgvector: a result within 1e-6 of the 10th counts),
    which also checks that the COPY wrote the sparse vectors and their indices right."""
    hits = []
    for query in queries:
        products, _ = case.rows.scores(query.sparse, case.vocab)
        tenth = np.sort(products)[-10]
        keys = [int(key[1:]) for key in client.query(query, 10)]
        hits.append(sum(products[k] >= tenth - 1e-6 for k in keys) / 10 if keys else 0.0)
    return {"queries": len(queries), "min": min(hits), "mean": round(float(np.mean(hits)), 5)}
