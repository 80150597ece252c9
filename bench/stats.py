"""Summaries of latency samples, and a deadline that long scenarios respect."""

from __future__ import annotations

import time
from collections.abc import Sequence
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
