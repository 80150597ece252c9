"""The load suite's figures: throughput, p50/p95/p99 per operation and phase, what each
fault cost and how long the service took to recover; and a plot of it over time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.load_clients import DROPPED, OPS, Sample


def latency(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    values = np.asarray(samples)
    p50, p95, p99 = (round(float(np.percentile(values, q)), 2) for q in (50, 95, 99))
    return {"n": len(values), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": round(float(values.max()), 2)}


def phase_summary(samples: list[Sample], seconds: float) -> dict[str, Any]:
    """Per operation: successes per second, latency of the successes, every status seen."""
    ok = [s for s in samples if s.status == 200]
    operations = {}
    for op in OPS:
        mine = [s for s in samples if s.op == op]
        statuses = Counter("dropped" if s.status == DROPPED else str(s.status) for s in mine)
        operations[op] = {
            "per_second": round(sum(1 for s in mine if s.status == 200) / seconds, 2),
            "statuses": dict(sorted(statuses.items())),
            **latency([s.ms for s in mine if s.status == 200]),
        }
    return {
        "seconds": round(seconds, 2),
        "requests": len(samples),
        "ok_per_second": round(len(ok) / seconds, 2),
        "non_200": sum(1 for s in samples if s.status != 200),
        "operations": operations,
    }


def recovery(samples: list[Sample], fault_at: float, back_at: float) -> dict[str, Any]:
    """What was served between the fault (`fault_at`) and its end (`back_at`), and after
    the end: how long until the first success, and until the last failure (from then on
    every request succeeded)."""
    during = [s for s in samples if fault_at <= s.at + s.ms / 1000 <= back_at]
    after = sorted((s for s in samples if s.at + s.ms / 1000 >= back_at), key=lambda s: s.at)
    first_ok = next((s for s in after if s.status == 200), None)
    failures = [s for s in after if s.status != 200]
    return {
        "ok_while_down": sum(1 for s in during if s.status == 200),
        "failed_while_down": sum(1 for s in during if s.status != 200),
        "first_success_after_s": round(first_ok.at + first_ok.ms / 1000 - back_at, 3) if first_ok else None,
        "last_failure_after_s": round(max(s.at + s.ms / 1000 for s in failures) - back_at, 3) if failures else 0.0,
        "failures_after": len(failures),
    }


def plot(report: dict[str, Any], samples: list[Sample], path: Path) -> bool:
    """Successful requests per second over the run, by operation, with each fault marked."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    end = max((s.at for s in samples), default=0.0)
    bins = np.arange(0, end + 1.0, 1.0)
    figure, (rate, lat) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    for op in OPS:
        times = [s.at for s in samples if s.op == op and s.status == 200]
        counts, _ = np.histogram(times, bins=bins)
        rate.plot(bins[:-1], counts, label=op, linewidth=1)
    failed = [s.at for s in samples if s.status != 200]
    counts, _ = np.histogram(failed, bins=bins)
    rate.plot(bins[:-1], counts, label="failed (503 or dropped)", color="red", linewidth=1)
    for op in OPS:
        points = [(s.at, s.ms) for s in samples if s.op == op and s.status == 200]
        if points:
            xs, ys = zip(*points, strict=True)
            lat.scatter(xs, ys, s=2, label=op, alpha=0.4)
    lat.set_yscale("log")
    for phase in report["phases"].values():
        for axis in (rate, lat):
            axis.axvline(phase["started_at"], color="grey", linestyle=":", linewidth=0.8)
        for event in phase.get("fault", {}).get("events", []):
            for axis in (rate, lat):
                axis.axvline(event["at"], color="red", linestyle="--", linewidth=0.8)
            rate.annotate(event["what"], (event["at"], rate.get_ylim()[1] * 0.95), fontsize=7, rotation=90, va="top")
    config = report["parameters"]
    rate.set_title(f"{config['clients']} clients, gunicorn {config['web']}: successful requests per second")
    rate.set_ylabel("requests / s")
    lat.set_ylabel("latency (ms, log)")
    lat.set_xlabel("seconds since the start (dotted: a phase starts; dashed: a fault)")
    rate.legend(fontsize=7, ncol=3)
    lat.legend(fontsize=7, ncol=5, markerscale=4)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
