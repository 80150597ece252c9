"""The resumable bench's report: targets evaluated from the figures, and the printed table."""

from __future__ import annotations

from typing import Any

TARGET_DEPTH_RATIO = 1.5
TARGET_RECALL = 0.98

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


def evaluate_targets(report: dict[str, Any]) -> dict[str, Any]:
    params = report["parameters"]
    deepest = max(params["depths"])
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
            "target": f"mean recall of the first {params['recall_k']} >= {TARGET_RECALL} ({params['vectors']} vectors)",
            "mean": recall["main"]["mean"],
            "min": recall["main"]["min"],
            "met": recall["main"]["mean"] >= TARGET_RECALL,
        }
    if "small" in recall:
        targets["recall_small"] = {
            "target": (
                f"recall 1.0 where the search is exact ({params['exact_vectors']} vectors, at most "
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


def print_table(report: dict[str, Any]) -> None:
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
