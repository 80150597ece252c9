"""The measurements, each a function of a client (service layer or HTTP) and the data:
next(10) latency by depth, the walk, recall, the drain, ordinary queries and the
selective filter. Refills are seen from outside: a call after which the handle has more
candidates buffered did one, and its wall time is what the caller paid for it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.clients import Call, Client, ServiceClient, advance, timed_next, timed_start
from bench.data import FILTER_BUCKET, FILTER_BUCKETS, exact_top_k
from bench.stats import NO_DEADLINE, Deadline, add_ratios, summary

# Query vectors (an array of them) or sparse/hybrid queries (a list).
Queries = Sequence[Any] | np.ndarray


def _bar(total: int, desc: str, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not progress, leave=False)


def measure_ours(
    client: Client,
    queries: Queries,
    depths: list[int],
    *,
    timed_calls: int,
    advance_step: int,
    progress: bool,
    desc: str,
    filter_text: str = "",
    deadline: Deadline = NO_DEADLINE,
) -> dict[str, Any]:
    """For each query and depth: start (topK=10), advance untimed with big next() calls to the
    depth, then time `timed_calls` consecutive next(10) calls. Query 0's timed calls through
    the service are traced statement by statement."""
    slots: dict[int, dict[str, Any]] = {
        d: {"calls": [], "effective": set(), "duplicates": 0, "traces": []} for d in depths
    }
    starts: list[float] = []
    measured = 0
    with _bar(len(queries) * len(depths), desc, progress) as bar:
        for qi, q in enumerate(queries):
            if deadline.passed:
                break
            for depth in depths:
                handle, start = timed_start(client, q, 10, filter_text)
                starts.append(start.ms)
                got, more, _ = advance(client, handle, len(start.ids), depth, advance_step)
                seen = [*start.ids, *more]  # everything this handle returned, to check for duplicates
                slot = slots[depth]
                slot["effective"].add(got)
                trace = isinstance(client, ServiceClient) and qi == 0
                previous = None
                for call_no in range(timed_calls):
                    call = timed_next(client, handle, 10, previous, trace=trace)
                    previous = call.after
                    slot["calls"].append(call)
                    seen.extend(call.ids)
                    if call.statements is not None:
                        slot["traces"].append(
                            {
                                "call": call_no,
                                "ms": round(call.ms, 3),
                                "sql_ms": round(sum(st["ms"] for st in call.statements), 3),
                                "statements": call.statements,
                            }
                        )
                slot["duplicates"] += len(seen) - len(set(seen))
                client.end(handle)
                bar.update(1)
            measured += 1
    rows = [_depth_row(depth, slots[depth], timed_calls) for depth in depths]
    add_ratios(rows)
    return {"rows": rows, "start": summary(starts), "queries_measured": measured, "cut_by_budget": deadline.passed}


def _depth_row(depth: int, slot: dict[str, Any], timed_calls: int) -> dict[str, Any]:
    calls: list[Call] = slot["calls"]
    samples = [c.ms for c in calls]
    row: dict[str, Any] = {"depth": depth, "effective_depths": sorted(slot["effective"]), **summary(samples)}
    refills = [(i % timed_calls, c) for i, c in enumerate(calls) if c.refilled]
    row["refills_in_timed_calls"] = len(refills)
    row["timed_calls_with_refill"] = [{"call": i, "ms": round(c.ms, 3), "buffer": c.after.buffered} for i, c in refills]
    without = summary([c.ms for c in calls if not c.refilled])
    row["median_ms_without_refills"] = without["median_ms"]
    row["mean_ms_without_refills"] = without["mean_ms"]
    if refills:
        row["refill_call_ms"] = [round(c.ms, 2) for _, c in refills]
        row["refill_sizes"] = [c.added for _, c in refills]
    row["background_merges_between_timed_calls"] = sum(c.merged_before for c in calls)
    row["short_pages"] = sum(len(c.ids) < 10 for c in calls)
    row["duplicates_within_handles"] = slot["duplicates"]
    if slot["traces"]:
        row["sql_traces_query0"] = slot["traces"]  # where a next(10) spends its time
    row["samples_ms"] = [round(s, 3) for s in samples]
    return row


def refill_schedule(client: Client, query: Any, depth: int, step: int) -> list[dict[str, Any]]:
    """The refills one handle goes through when started (topK=10) and advanced to `depth`
    with next(step), each with the wall time of the call that did it."""
    handle, start = timed_start(client, query, 10)
    _, _, calls = advance(client, handle, len(start.ids), depth, step)
    client.end(handle)
    return [{"call": i, **c.refill()} for i, c in enumerate([start, *calls]) if c.refilled]


def measure_walk(
    client: Client,
    queries: Queries,
    depth: int,
    *,
    extra_calls: int,
    edges: Sequence[int],
    progress: bool,
    deadline: Deadline = NO_DEADLINE,
) -> dict[str, Any]:
    """Page each handle with next(10) from the start to `depth` (+ extra_calls), timing every
    call: the amortised cost with every refill included, per call and in depth buckets."""
    calls_per_query = depth // 10 + extra_calls
    per_call = np.full((len(queries), calls_per_query), np.nan)
    refills: list[list[dict[str, Any]]] = []
    background: list[dict[str, int]] = []
    with _bar(len(queries) * calls_per_query, "walk next(10)", progress) as bar:
        for qi, q in enumerate(queries):
            handle, start = timed_start(client, q, 10)
            previous = start.after
            log, between, queued = [], 0, 0
            for i in range(calls_per_query):
                if deadline.passed:
                    break
                call = timed_next(client, handle, 10, previous)
                previous = call.after
                per_call[qi, i] = call.ms
                between += call.merged_before
                queued += call.queued
                if call.refilled:
                    log.append({"at_call": i, "depth": 10 + 10 * i, **call.refill()})
                bar.update(1)
            client.end(handle)
            refills.append(log)
            background.append({"merged_between_calls": between, "queued": queued})
    done = per_call[~np.isnan(per_call)]
    buckets = []
    bounds = sorted({0, *[e for e in edges if 0 < e < depth]})
    for lo, hi in zip(bounds, [*bounds[1:], depth + 10 * extra_calls], strict=True):
        chunk = per_call[:, lo // 10 : max(lo // 10 + 1, hi // 10)].ravel()
        chunk = chunk[~np.isnan(chunk)]
        if chunk.size:
            buckets.append({"from_depth": lo, "to_depth": hi, **summary(chunk.tolist())})
    stats = summary(done.tolist())
    slowest = int(np.nanargmax(per_call)) if done.size else None
    return {
        "queries": len(queries),
        "calls_per_query": calls_per_query,
        "calls_timed": int(done.size),
        "cut_by_budget": int(done.size) < per_call.size,
        "amortised_mean_ms": round(float(done.mean()), 4) if done.size else None,
        "median_ms": stats["median_ms"],
        "p99_ms": stats["p99_ms"],
        "max_ms": stats["max_ms"],
        "slowest_call": None
        if slowest is None
        else {"query": slowest // calls_per_query, "call": slowest % calls_per_query},
        "buckets": buckets,
        "refills": refills,  # merges seen during a call, per query
        "background": background,  # refills queued by the calls, and merges that landed between calls
        "samples_ms": [[round(float(x), 3) for x in row if not np.isnan(x)] for row in per_call],
    }


def measure_recall(
    client: Client,
    vectors: np.ndarray,
    queries: np.ndarray,
    k: int,
    page: int,
    *,
    desc: str,
    progress: bool,
    filter_text: str = "",
    rows: np.ndarray | None = None,
) -> dict[str, Any]:
    """The first k results gathered with topK=page, then next(page), against numpy brute
    force (float64 cosine, ties by insertion order); `rows` limits the truth to matching rows."""
    subset = np.arange(len(vectors)) if rows is None else rows
    truths = exact_top_k(vectors if rows is None else vectors[rows], queries, k)
    recalls, tolerant, duplicates = [], [], 0
    with _bar(len(queries), desc, progress) as bar:
        for q, truth_local in zip(queries, truths, strict=True):
            truth = subset[truth_local]
            handle, ids = client.start(q, min(page, k), filter_text)
            _, more, _ = advance(client, handle, len(ids), k, page)
            client.end(handle)
            got = [int(key[1:]) for key in [*ids, *more][:k]]
            duplicates += len(got) - len(set(got))
            recalls.append(len(set(truth.tolist()).intersection(got)) / k)
            # Float noise: pgvector sums in float32, numpy here in float64; a row whose exact
            # distance is within 1e-6 of the k-th counts as a hit in the tolerant figure.
            q64 = q.astype(np.float64)
            kth = 1.0 - float(np.asarray(vectors[int(truth[-1])], dtype=np.float64) @ q64)
            found = 1.0 - np.asarray(vectors[sorted(got)], dtype=np.float64) @ q64 if got else np.array([])
            tolerant.append(min(1.0, float(np.sum(found <= kth + 1e-6)) / k))
            bar.update(1)
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


def drain_handle(client: Client, query: Any, page: int, limit: int) -> tuple[list[str], list[float], float]:
    """Start with topK=page and call next(page) until [] (or past `limit` results, a runaway);
    returns (every id returned, each next call's ms, total seconds)."""
    handle, start = timed_start(client, query, page)
    ids, call_ms, total_ms = list(start.ids), [], start.ms
    previous = start.after
    while True:
        call = timed_next(client, handle, page, previous)
        previous = call.after
        call_ms.append(call.ms)
        total_ms += call.ms
        if not call.ids:
            break
        ids.extend(call.ids)
        if len(ids) > limit:
            break
    with contextlib.suppress(Exception):  # a drained handle may already be gone; that is fine
        client.end(handle)
    return ids, call_ms, total_ms / 1000


def measure_drain(client: Client, n: int, query: Any, page: int, desc: str) -> dict[str, Any]:
    """Empty a namespace of n vectors (keys v0..v{n-1}) with next(page): every one exactly once."""
    ids, call_ms, seconds = drain_handle(client, query, page, 2 * n)
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
        "calls": len(call_ms) + 1,
        "seconds": round(seconds, 3),
        "next_call": summary(call_ms),
    }
    print(
        f"  drain ({desc}): {len(keys)} returned, {len(unique)} unique, {missing} missing, "
        f"{result['calls']} calls, {seconds:.2f} s -> {'OK' if result['every_vector_exactly_once'] else 'FAILED'}"
    )
    return result


def measure_plain_query(
    client: ServiceClient, queries: Queries, reps: int, *, filter_text: str = "", top_k: int = 10
) -> dict[str, Any]:
    """An ordinary query(topK) per query vector, `reps` times each (timed), and how many
    results each returned (a full page is top_k while enough records match)."""
    import time

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


def measure_start_and_query(client: ServiceClient, queries: Queries, reps: int) -> dict[str, Any]:
    """The resumable start (topK=10) against the ordinary query(topK=10), timed alike in
    two cache states. Cold: each call is the first for its query vector since every other
    vector's calls (an index larger than shared_buffers then reads most of its pages from
    the OS cache). Warm: right after an ordinary query with the same vector. `reps` rounds
    over the query vectors; the start target is judged on both states."""
    import time

    def timed(call: Any) -> float:
        t0 = time.perf_counter()
        call()
        return (time.perf_counter() - t0) * 1000

    def start(q: Any) -> float:
        handle, call = timed_start(client, q, 10)
        client.end(handle)
        return call.ms

    cold_query: list[float] = []
    cold_start: list[float] = []
    warm_query: list[float] = []
    warm_start: list[float] = []
    for _ in range(reps):
        cold_query.extend(timed(lambda q=q: client.query(q, 10)) for q in queries)
        cold_start.extend(start(q) for q in queries)
        for q in queries:
            client.query(q, 10)
            warm_query.append(timed(lambda q=q: client.query(q, 10)))
            warm_start.append(start(q))
    return {
        "reps": reps,
        "cold": {"query": summary(cold_query), "start": summary(cold_start)},
        "warm": {"query": summary(warm_query), "start": summary(warm_start)},
    }


def measure_plain_recall(
    client: ServiceClient, vectors: np.ndarray, queries: np.ndarray, k: int = 10
) -> dict[str, Any]:
    """Recall of an ordinary query(topK=k) against brute force: the HNSW index's own
    quality on this data, the reference for a resumable query's first pages."""
    truths = exact_top_k(vectors, queries, k)
    recalls = [
        len(set(truth.tolist()).intersection(int(key[1:]) for key in client.query(q, k))) / k
        for q, truth in zip(queries, truths, strict=True)
    ]
    return {
        "k": k,
        "mean": round(float(np.mean(recalls)), 5),
        "min": round(float(np.min(recalls)), 5),
        "per_query": [round(r, 5) for r in recalls],
    }


def measure_filtered(
    service: ServiceClient,
    vectors: np.ndarray,
    queries: np.ndarray,
    *,
    timed_calls: int,
    advance_step: int,
    recall_k: int,
    plain_query_reps: int,
    progress: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """next(10) by depth and recall with `bucket = 7` (1% of the vectors match: the data
    carry bucket = i % 100), and an ordinary filtered query(topK=10) for comparison;
    returns (latency series, details). Depths are a tenth and a half of the matching rows."""
    filter_text = f"bucket = {FILTER_BUCKET}"
    matching = np.flatnonzero(np.arange(len(vectors)) % FILTER_BUCKETS == FILTER_BUCKET)
    n_match = len(matching)
    depths = sorted({0, *[d for d in (n_match // 10, n_match // 2) if 0 < d < n_match - 10 * timed_calls]})
    print(f"filtered ({filter_text}: {n_match} of {len(vectors)} match; depths {depths}) ...")
    timing = measure_ours(
        service,
        queries,
        depths,
        timed_calls=timed_calls,
        advance_step=advance_step,
        progress=progress,
        desc="filtered next(10)",
        filter_text=filter_text,
    )
    k = min(recall_k, n_match // 2)
    recall = measure_recall(
        service,
        vectors,
        queries,
        k,
        100,
        desc="filtered recall",
        progress=progress,
        filter_text=filter_text,
        rows=matching,
    )
    details = {
        "filter": filter_text,
        "matching": n_match,
        "depths": depths,
        "recall": {key: recall[key] for key in ("k", "mean", "min", "per_query")},
        "plain_query": measure_plain_query(service, queries, plain_query_reps, filter_text=filter_text),
    }
    return timing, details
