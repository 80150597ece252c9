"""Summaries of latency samples, and a deadline that long scenarios (and phases of them) respect."""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


def summary(samples_ms: Sequence[float]) -> dict[str, Any]:
    """n, median, p95, p99, mean and max of latency samples in ms (None when empty)."""
    if not samples_ms:
        return {"n": 0, "median_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    values = np.asarray(samples_ms, dtype=np.float64)
    return {
        "n": len(values),
        "median_ms": round(float(np.median(values)), 4),
        "p95_ms": round(float(np.percentile(values, 95)), 4),
        "p99_ms": round(float(np.percentile(values, 99)), 4),
        "mean_ms": round(float(values.mean()), 4),
        "max_ms": round(float(values.max()), 4),
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each depth's median, mean and p95 as a ratio to depth 0's."""
    base = next((r for r in rows if r["depth"] == 0 and r.get("median_ms")), None)
    for row in rows:
        for stat in ("median", "mean", "p95"):
            value = row.get(f"{stat}_ms")
            ref = base.get(f"{stat}_ms") if base else None
            row[f"ratio_{stat}"] = round(value / ref, 3) if value is not None and ref else None


def ratio(value: float | None, reference: float | None) -> float | None:
    return round(value / reference, 3) if value is not None and reference else None


class Deadline:
    """A time budget: scenarios check it between calls and stop early (saying so) once spent."""

    def __init__(self, seconds: float | None) -> None:
        self.ends = None if seconds is None else time.monotonic() + seconds

    @property
    def passed(self) -> bool:
        return self.ends is not None and time.monotonic() > self.ends


NO_DEADLINE = Deadline(None)


def reachable_depths(depths: list[int], n: int, timed_calls: int) -> list[int]:
    """The depths whose timed calls stay within the namespace."""
    return [d for d in depths if d + 10 * (timed_calls + 1) <= n]


@contextlib.contextmanager
def phase(out: dict[str, Any], key: str, deadline: Deadline) -> Iterator[bool]:
    """One scenario: yields True when it must be skipped (the N's budget is spent), times
    it otherwise, and records a failure (the run goes on) rather than raising it."""
    if deadline.passed:
        out[key] = {"status": "skipped: budget spent"}
        yield True
        return
    t0 = time.perf_counter()
    try:
        yield False
    except Exception as error:
        out[key] = {
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
        print(f"  {key} failed: {error}")
    out.setdefault("phase_seconds", {})[key] = round(time.perf_counter() - t0, 1)
