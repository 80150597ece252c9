"""The resumable bench's plot: next(10) latency against depth, as a ratio to depth 0 and in
milliseconds, for every series (the filtered, SPARSE and HYBRID ones in a lower row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import EXTRA_SERIES, SERIES, TARGET_DEPTH_RATIO, series_rows


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
