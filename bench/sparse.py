"""The SPARSE and HYBRID scenarios: next(10) by depth on a SPARSE index (plain and
IDF-weighted) and a HYBRID one (RRF), a sparse drain that must return exactly the
matching records, and a hybrid walk that must hold no duplicate."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.clients import ServiceClient
from bench.data import SPARSE_NNZ, SPARSE_QUERY_NNZ, ZIPF_EXPONENT, SparseCase, SparseQuery
from bench.scenarios import drain_handle, measure_ours, measure_plain_query
from bench.stats import summary


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
    ids, call_ms, seconds = drain_handle(client, query, page, 2 * len(case.rows))
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
        "calls": len(call_ms) + 1,
        "seconds": round(seconds, 3),
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
        f"{result['missing']} missing, {result['unexpected']} unexpected, {result['calls']} calls, {seconds:.2f} s -> "
        f"{'OK' if result['every_match_exactly_once'] else 'FAILED'}"
    )
    return result


def hybrid_walk(client: ServiceClient, query: SparseQuery, n: int, page: int) -> dict[str, Any]:
    """One hybrid handle emptied with next(page): the concatenated batches must hold no
    duplicate, and (the dense side ranks every record) every record exactly once."""
    ids, call_ms, seconds = drain_handle(client, query, page, 2 * n)
    keys = [int(key[1:]) for key in ids]
    unique = set(keys)
    result = {
        "records": n,
        "page": page,
        "returned": len(keys),
        "unique": len(unique),
        "duplicates": len(keys) - len(unique),
        "missing": n - len(unique.intersection(range(n))),
        "calls": len(call_ms) + 1,
        "seconds": round(seconds, 3),
        "next_call": summary(call_ms),
    }
    result["no_duplicates"] = result["duplicates"] == 0
    result["every_record_exactly_once"] = result["no_duplicates"] and result["missing"] == 0 and len(keys) == n
    print(
        f"  hybrid walk next({page}): {len(keys)} returned of {n}, {result['duplicates']} duplicates, "
        f"{result['missing']} missing, {result['calls']} calls, {seconds:.2f} s -> "
        f"{'OK' if result['every_record_exactly_once'] else 'FAILED'}"
    )
    return result


def sparse_clients(case: SparseCase) -> dict[str, ServiceClient]:
    """The three series' clients: SPARSE plain, SPARSE IDF-weighted, HYBRID with RRF."""
    return {
        "sparse": ServiceClient(case.sparse_index, ""),
        "sparse_idf": ServiceClient(case.sparse_index, "", weighting="IDF"),
        "hybrid": ServiceClient(case.hybrid_index, "", fusion="RRF"),
    }


def describe_rows(case: SparseCase) -> dict[str, Any]:
    """The sparse data's shape: its generator's parameters and how skewed its posting lists are."""
    n = len(case.rows)
    postings = np.bincount(case.rows.indices, minlength=case.vocab)
    return {
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
        "query_selection": case.query_selection,
        "fingerprint": case.fingerprint,
    }


def measure_sparse_hybrid(
    case: SparseCase, *, timed_calls: int, advance_step: int, recall_k: int, plain_query_reps: int, progress: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """next(10) by depth on the SPARSE index (plain and IDF-weighted) and on the HYBRID
    index (RRF), a sparse drain, a hybrid walk, and ordinary queries for comparison;
    returns (latency series by key, details)."""
    n = len(case.rows)
    matches = [int(case.rows.scores(q.sparse, case.vocab)[1].sum()) for q in case.queries]
    sparse_depths = scaled_depths(min(matches), timed_calls)
    hybrid_depths = scaled_depths(n, timed_calls)
    details: dict[str, Any] = {
        **describe_rows(case),
        "matching_per_query": matches,
        "sparse_depths": sparse_depths,
        "hybrid_depths": hybrid_depths,
    }
    print(
        f"sparse/hybrid ({n} records, {len(case.queries)} queries, {min(matches)}-{max(matches)} matching; "
        f"depths {sparse_depths} / hybrid {hybrid_depths}) ..."
    )
    clients = {
        key: (client, hybrid_depths if key == "hybrid" else sparse_depths)
        for key, client in sparse_clients(case).items()
    }
    # Warm up each index (its table pages and the GIN index).
    for client, _ in clients.values():
        handle, _ = client.start(case.queries[0], 10)
        client.next(handle, 100)
        client.end(handle)
    latency: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for key, (client, depths) in clients.items():
        latency[key] = measure_ours(
            client,
            case.queries,
            depths,
            timed_calls=timed_calls,
            advance_step=advance_step,
            progress=progress,
            desc=f"{key} next(10)",
        )
        plain[key] = measure_plain_query(client, case.queries, plain_query_reps)
    details["plain_query"] = plain
    first = case.queries[0]
    details["drain"] = {
        "sparse": sparse_drain(clients["sparse"][0], case, first, 500, "sparse service", recall_k=recall_k),
        "sparse_idf": sparse_drain(clients["sparse_idf"][0], case, first, 500, "sparse IDF service", recall_k=recall_k),
    }
    details["hybrid_walk"] = hybrid_walk(clients["hybrid"][0], first, n, 500)
    details["hybrid_duplicates_in_timed_handles"] = sum(
        r["duplicates_within_handles"] for r in latency["hybrid"]["rows"]
    )
    return latency, details
