"""The scale bench's report: the targets per N and overall, the printed table, and the
plot (latency against N on the left, next(10) against depth on the right)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.stats import ratio

TARGET_START_RATIO = 2.0  # start p50 <= 2x ordinary query p50, at every N
TARGET_DEPTH_RATIO = 1.5  # next(10) p50 at depth 50,000 <= 1.5x depth 0
TARGET_WALK_SPIKE = 10.0  # slowest next(10) of the walk <= 10x the walk's p50
TARGET_RECALL_MEAN, TARGET_RECALL_MIN, RECALL_AT = 0.98, 0.95, 1_000_000


def _get(data: Any, *path: Any) -> Any:
    """data[path[0]][path[1]]..., or None where a level is missing (a phase skipped or failed)."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def depth_rows(size: dict[str, Any]) -> list[dict[str, Any]]:
    return _get(size, "by_depth", "rows") or []


def evaluate_size(size: dict[str, Any]) -> dict[str, Any]:
    """Each target at this N, with the figures it was judged on (`met` None: not measured)."""
    targets: dict[str, Any] = {}
    start, plain = _get(size, "start", "median_ms"), _get(size, "plain_query", "median_ms")
    value = ratio(start, plain)
    # Judged in both cache states (measure_start_and_query): cold (the figures above) and
    # warm; a run that measured only one (an older JSON) is judged on that one.
    warm = ratio(_get(size, "warm", "start", "median_ms"), _get(size, "warm", "plain_query", "median_ms"))
    judged = [r for r in (value, warm) if r is not None]
    targets["start_vs_query"] = {
        "target": f"resumable start p50 <= {TARGET_START_RATIO}x ordinary query(topK=10) p50, cold and warm",
        "start_p50_ms": start,
        "query_p50_ms": plain,
        "ratio": value,
        "warm_start_p50_ms": _get(size, "warm", "start", "median_ms"),
        "warm_query_p50_ms": _get(size, "warm", "plain_query", "median_ms"),
        "warm_ratio": warm,
        "met": None if not judged else max(judged) <= TARGET_START_RATIO,
    }
    rows = [r for r in depth_rows(size) if r.get("median_ms") is not None]
    deepest = rows[-1] if rows else None
    targets["depth_ratio"] = {
        "target": f"next(10) p50 at the deepest depth (50,000 where N allows) <= {TARGET_DEPTH_RATIO}x depth 0",
        "depth": deepest["depth"] if deepest else None,
        "ratio": deepest["ratio_median"] if deepest else None,
        "met": None
        if not deepest or deepest["ratio_median"] is None
        else deepest["ratio_median"] <= TARGET_DEPTH_RATIO,
    }
    walk = size.get("walk") or {}
    spike = ratio(walk.get("max_ms"), walk.get("median_ms"))
    targets["walk_spike"] = {
        "target": f"slowest next(10) of the walk <= {TARGET_WALK_SPIKE}x the walk's p50",
        "walk_depth": walk.get("depth"),
        "p50_ms": walk.get("median_ms"),
        "p99_ms": walk.get("p99_ms"),
        "max_ms": walk.get("max_ms"),
        "ratio": spike,
        "met": None if spike is None else spike <= TARGET_WALK_SPIKE,
    }
    recall = size.get("recall") or {}
    targets["recall"] = {
        "target": f"recall of the first 1,000 >= {TARGET_RECALL_MEAN} mean and >= {TARGET_RECALL_MIN} min "
        f"(required at N = {RECALL_AT:,})",
        "mean": recall.get("mean"),
        "min": recall.get("min"),
        "required_here": size["n"] >= RECALL_AT,
        "met": None
        if recall.get("mean") is None
        else recall["mean"] >= TARGET_RECALL_MEAN and recall["min"] >= TARGET_RECALL_MIN,
    }
    drain = size.get("drain") or {}
    targets["drain"] = {
        "target": "a drain returns every vector exactly once",
        "vectors": drain.get("namespace_vectors"),
        "met": drain.get("every_vector_exactly_once"),
    }
    filtered = size.get("filtered") or {}
    if filtered.get("full_pages") is not None:
        targets["filtered_full_pages"] = {
            "target": "filtered (1%) start, next(10) and query(topK=10) return full pages",
            "met": filtered["full_pages"],
        }
    return targets


def overall_targets(report: dict[str, Any]) -> dict[str, Any]:
    """Per target, met over every N measured (recall: at 1,000,000 only, if measured)."""
    out: dict[str, Any] = {}
    sizes = report.get("sizes", {})
    names = {name for size in sizes.values() for name in size.get("targets", {})}
    for name in sorted(names):
        per_n = {n: size["targets"][name] for n, size in sizes.items() if name in size.get("targets", {})}
        judged = {n: t for n, t in per_n.items() if t["met"] is not None}
        if name == "recall":
            judged = {n: t for n, t in judged.items() if t["required_here"]}
        out[name] = {
            "met": all(t["met"] for t in judged.values()) if judged else None,
            "per_n": {n: t["met"] for n, t in per_n.items()},
            "judged_at": sorted(judged, key=int),
        }
    return out


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(report: dict[str, Any]) -> None:
    sizes = report.get("sizes", {})
    print()
    print("scale: service-layer latency, p50 ms (ratios are the targets')")
    header = f"{'N':>10} {'query':>8} {'start':>9} {'x':>6} " + " ".join(
        f"{'d' + str(d):>8}" for d in report["parameters"]["depths"]
    )
    header += f" {'x d0':>6} {'walk p50':>9} {'p99':>8} {'max':>9} {'x':>6} {'recall':>13} {'drain':>6} {'filt st':>8}"
    print(header)
    print("-" * len(header))
    for n, size in sizes.items():
        t = size.get("targets", {})
        by_depth = {r["depth"]: r for r in depth_rows(size)}
        cells = " ".join(f"{fmt((by_depth.get(d) or {}).get('median_ms')):>8}" for d in report["parameters"]["depths"])
        recall = size.get("recall") or {}
        print(
            f"{int(n):>10,} {fmt(_get(size, 'plain_query', 'median_ms')):>8} {fmt(_get(size, 'start', 'median_ms')):>9} "
            f"{fmt(_get(t, 'start_vs_query', 'ratio')):>6} {cells} {fmt(_get(t, 'depth_ratio', 'ratio')):>6} "
            f"{fmt(_get(size, 'walk', 'median_ms')):>9} {fmt(_get(size, 'walk', 'p99_ms')):>8} "
            f"{fmt(_get(size, 'walk', 'max_ms'), 1):>9} {fmt(_get(t, 'walk_spike', 'ratio'), 1):>6} "
            f"{fmt(recall.get('mean'), 3) + '/' + fmt(recall.get('min'), 3):>13} "
            f"{'OK' if _get(t, 'drain', 'met') else 'FAIL' if _get(t, 'drain', 'met') is False else '-':>6} "
            f"{fmt(_get(size, 'filtered', 'start', 'median_ms')):>8}"
        )
    for n, size in sizes.items():
        t = size.get("targets", {}).get("start_vs_query") or {}
        if t.get("warm_ratio") is not None:
            print(
                f"N = {int(n):,}: query and start cold (above), warm {fmt(t.get('warm_query_p50_ms'))} and "
                f"{fmt(t.get('warm_start_p50_ms'))} ms ({fmt(t.get('warm_ratio'))}x)"
            )
    for n, size in sizes.items():
        main = _get(size, "data", "main") or {}
        load = main.get("load") or {}
        how = f"COPY {load.get('load_seconds')} s + HNSW build {load.get('index_build_seconds')} s"
        how = f"cached (loaded earlier: {how})" if main.get("cached") else how
        base = size.get("baselines") or {}
        offset = {r["depth"]: r.get("median_ms") for r in _get(base, "offset", "rows") or []}
        keyset = {r["depth"]: r.get("median_ms") for r in _get(base, "keyset", "rows") or []}
        extra = ""
        if offset:
            deepest = max(offset)
            extra = f"; OFFSET d0/d{deepest} {fmt(offset.get(0))}/{fmt(offset.get(deepest))} ms, keyset {fmt(keyset.get(0))}/{fmt(keyset.get(deepest))} ms"
        plain = _get(size, "plain_query", "recall") or {}
        if plain:
            extra += f"; ordinary query recall@{plain['k']} {fmt(plain['mean'], 3)}/{fmt(plain['min'], 3)} (mean/min)"
        print(f"  N = {int(n):,}: data {how}{extra}")
    print()
    for name, target in report.get("targets", {}).items():
        met = target["met"]
        verdict = "MET" if met else "MISSED" if met is False else "not judged"
        where = ", ".join(f"{int(n):,}" for n in target["judged_at"]) or "no N measured where it applies"
        print(f"target {name}: {verdict} (judged at N = {where}; per N: {target['per_n']})")


SPARSE_SERIES = [  # (section, key, label, colour): where each sits in a size's JSON
    ("sparse", "sparse", "sparse", "tab:brown"),
    ("sparse", "sparse_idf", "sparse IDF", "tab:pink"),
    ("hybrid", "hybrid", "hybrid RRF", "tab:olive"),
]


def sparse_row(series: dict[str, Any], depth: int) -> float | None:
    return next((r.get("median_ms") for r in series.get("rows") or [] if r["depth"] == depth), None)


def print_sparse_table(report: dict[str, Any]) -> None:
    """SPARSE and HYBRID: ordinary query, start and next(10) by depth, p50; report only."""
    sizes = {n: s for n, s in report.get("sizes", {}).items() if _get(s, "sparse", "series")}
    if not sizes:
        return
    depths = report["parameters"]["sparse"]["depths"]
    print()
    print("scale, SPARSE and HYBRID: service-layer latency, p50 ms (report only: no targets yet)")
    header = f"{'N':>10} {'series':<11} {'query':>9} {'start':>10} {'x':>7} " + " ".join(
        f"{'d' + str(d):>8}" for d in depths
    )
    print(header + f" {'queries':>7}")
    print("-" * (len(header) + 8))
    for n, size in sizes.items():
        for section, key, label, _ in SPARSE_SERIES:
            series = _get(size, section, "series", key) or {}
            query, start = _get(series, "plain_query", "median_ms"), _get(series, "start", "median_ms")
            cells = " ".join(f"{fmt(sparse_row(series, d)):>8}" for d in depths)
            print(
                f"{int(n):>10,} {label:<11} {fmt(query):>9} {fmt(start):>10} {fmt(ratio(start, query)):>7} {cells} "
                f"{series.get('queries_measured', series.get('status', '-'))!s:>7}"
            )
    for n, size in sizes.items():
        sparse, hybrid = size["sparse"], size["hybrid"]
        loads = []
        for name, part in (("sparse", _get(sparse, "data", "sparse")), ("hybrid", _get(hybrid, "data"))):
            load = (part or {}).get("load") or {}
            how = f"COPY {load.get('load_seconds')} s + HNSW {load.get('index_build_seconds')} s"
            loads.append(f"{name} {'cached, loaded earlier: ' if (part or {}).get('cached') else ''}{how}")
        matching = sparse.get("matching_per_query") or [0]
        check = _get(sparse, "series", "sparse", "plain_query", "top10_vs_brute_force") or {}
        print(
            f"  N = {int(n):,}: {'; '.join(loads)}; {min(matching):,}-{max(matching):,} records match a query; "
            f"sparse top-10 vs brute force {fmt(check.get('min'), 3)} (min)"
        )
        for _, key, label, _ in SPARSE_SERIES:
            series = _get(size, "hybrid" if key == "hybrid" else "sparse", "series", key) or {}
            if series.get("capped"):
                print(f"    {label}: {series['capped']}")
            if series.get("duplicates_within_handles") or series.get("short_pages"):
                print(
                    f"    {label}: {series['duplicates_within_handles']} duplicates, {series['short_pages']} short pages"
                )


SERIES_VS_N = [
    ("ordinary query(topK=10)", ("plain_query", "median_ms"), "tab:gray", "o"),
    ("resumable start (topK=10)", ("start", "median_ms"), "tab:red", "s"),
    ("next(10) at depth 0", ("by_depth", 0), "tab:blue", "^"),
    ("next(10) at the deepest depth", ("by_depth", -1), "tab:purple", "v"),
    ("walk next(10) p50", ("walk", "median_ms"), "tab:green", "D"),
    ("walk next(10) p99", ("walk", "p99_ms"), "tab:olive", "D"),
    ("walk slowest next(10)", ("walk", "max_ms"), "tab:brown", "x"),
    ("filtered (1%) start", ("filtered", "start", "median_ms"), "tab:pink", "P"),
]


def _series_value(size: dict[str, Any], path: tuple[Any, ...]) -> float | None:
    if path[0] == "by_depth":
        rows = [r for r in depth_rows(size) if r.get("median_ms") is not None]
        if not rows:
            return None
        return (
            rows[path[1]]["median_ms"]
            if path[1] == -1
            else next((r["median_ms"] for r in rows if r["depth"] == path[1]), None)
        )
    return _get(size, *path)


def plot(report: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    sizes = {int(n): s for n, s in report.get("sizes", {}).items()}
    with_sparse = any(_get(s, "sparse", "series") for s in sizes.values())
    fig, axes = plt.subplots(1, 3 if with_sparse else 2, figsize=(21 if with_sparse else 14, 6))
    left, right = axes[0], axes[1]
    if with_sparse:
        plot_sparse(axes[2], sizes)
    ns = sorted(sizes)
    for label, key, color, marker in SERIES_VS_N:
        points = [(n, _series_value(sizes[n], key)) for n in ns]
        points = [(n, v) for n, v in points if v is not None]
        if points:
            left.plot(*zip(*points, strict=True), marker=marker, color=color, label=label)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("N (vectors in the namespace)")
    left.set_ylabel("latency, ms (p50 unless said)")
    left.set_title("latency against N (service layer)")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for i, n in enumerate(ns):
        color = colors[i % len(colors)]
        rows = [r for r in depth_rows(sizes[n]) if r.get("median_ms") is not None]
        if rows:
            right.plot(
                [r["depth"] for r in rows],
                [r["median_ms"] for r in rows],
                marker="o",
                color=color,
                label=f"ours, N={n:,}",
            )
        for name, style in (("offset", "--"), ("keyset", ":")):
            base = [r for r in _get(sizes[n], "baselines", name, "rows") or [] if r.get("median_ms") is not None]
            if base:
                right.plot(
                    [r["depth"] for r in base],
                    [r["median_ms"] for r in base],
                    linestyle=style,
                    marker=".",
                    color=color,
                    alpha=0.6,
                    label=f"{name.upper() if name == 'offset' else 'keyset'} SQL, N={n:,}",
                )
    right.set_xscale("symlog", linthresh=100)
    right.set_xlim(left=-10)
    right.set_yscale("log")
    right.set_xlabel("depth (results already returned)")
    right.set_ylabel("next(10) p50, ms")
    right.set_title("next(10) against depth (dashed: OFFSET, dotted: keyset on distance)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7)
    params = report.get("parameters", {})
    fig.suptitle(
        f"Resumable queries at scale: {params.get('dim')} dims, COSINE, HNSW; "
        f"{params.get('queries')} queries x {params.get('timed_calls')} next(10) per depth"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def plot_sparse(axis: Any, sizes: dict[int, dict[str, Any]]) -> None:
    """SPARSE and HYBRID against N: query (dotted, o), start (solid, s), next(10) at depth 0 (dashed, ^)."""
    ns = sorted(sizes)
    for section, key, label, color in SPARSE_SERIES:
        for what, style, marker, value in (
            ("query", ":", "o", lambda s: _get(s, "plain_query", "median_ms")),
            ("start", "-", "s", lambda s: _get(s, "start", "median_ms")),
            ("next(10) d0", "--", "^", lambda s: sparse_row(s, 0)),
        ):
            points = [(n, value(_get(sizes[n], section, "series", key) or {})) for n in ns]
            points = [(n, v) for n, v in points if v is not None]
            if points:
                xy = zip(*points, strict=True)
                axis.plot(*xy, linestyle=style, marker=marker, color=color, label=f"{label} {what}")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("N (records in the namespace)")
    axis.set_ylabel("latency, ms (p50)")
    axis.set_title("SPARSE and HYBRID (report only): query, start, next(10) at depth 0")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7)
