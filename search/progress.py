"""How far a resumable query has got, per side: a typed value stored as JSON on the handle.

A dense or sparse query has one side; a fused hybrid query has both, each with its own
buffer of candidates (see docs/resumable-queries.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from django.db import models

from search.models.choices import Component
from search.models.vectors import Candidate


class Phase(StrEnum):
    """Where a side's candidates come from: the HNSW index, or exact keyset scans."""

    ANN = "ann"
    EXACT = "exact"


@dataclass
class SideProgress:
    """One side's buffer of candidates not yet handed out.

    `horizon` is how far the fetched candidates reach: in the exact phase the keyset
    position (distance, row) where the next scan starts; in the ANN phase the end of the
    part of the last HNSW scan that is trusted. `scanned` is the size of the last scan or
    chunk (each refill doubles it); `buffered` counts the rows waiting in the buffer;
    `exhausted` says no candidate lies beyond the horizon. `reach` is the farthest
    candidate handed out; after the switch from the ANN phase, exact scans leave out ids
    already handed out until they pass `catch_up` (the reach at the switch). Once the
    reach passes `low_water`, the next refill is due; `refill_requested` is when a
    background refill was asked for (epoch seconds). No buffered row lies nearer than
    `floor` (a distance; None: read from the top), so reading the buffer skips the rows
    handed out before, deleted but left in its index until vacuum: deep in an iteration
    they are most of it. `pad` is how many rows beyond its page the last `next` had to read
    to rank it (many where scores lie closer than their rounding): the next one reads as
    many at once."""

    phase: Phase = Phase.EXACT
    horizon: Candidate | None = None
    scanned: int = 0
    buffered: int = 0
    exhausted: bool = False
    reach: Candidate | None = None
    catch_up: Candidate | None = None
    low_water: Candidate | None = None
    refill_requested: float | None = None
    floor: float | None = None
    pad: int = 0

    @property
    def finished(self) -> bool:
        return self.phase == Phase.EXACT and self.exhausted and self.buffered == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SideProgress:
        return cls(
            phase=Phase(data["phase"]),
            horizon=_candidate(data["horizon"]),
            scanned=data["scanned"],
            buffered=data["buffered"],
            exhausted=data["exhausted"],
            reach=_candidate(data["reach"]),
            catch_up=_candidate(data["catch_up"]),
            low_water=_candidate(data.get("low_water")),
            refill_requested=data["refill_requested"],
            floor=data.get("floor"),
            pad=data.get("pad", 0),
        )


def _candidate(data: dict[str, Any] | None) -> Candidate | None:
    return Candidate(pk=data["pk"], distance=data["distance"]) if data else None


@dataclass
class Progress:
    """Both sides, and the last score handed out by a one-sided query: no later result
    scores higher, but across the one switch from the ANN phase to the exact phase."""

    dense: SideProgress = field(default_factory=SideProgress)
    sparse: SideProgress = field(default_factory=SideProgress)
    last_score: float | None = None

    def side(self, component: Component) -> SideProgress:
        return self.dense if component == Component.DENSE else self.sparse

    def to_json(self) -> dict[str, Any]:
        return {"dense": self.dense.to_json(), "sparse": self.sparse.to_json(), "last_score": self.last_score}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(
            dense=SideProgress.from_json(data["dense"]),
            sparse=SideProgress.from_json(data["sparse"]),
            last_score=data.get("last_score"),
        )


class ProgressField(models.JSONField):
    """A JSON column read as a `Progress` and written from one."""

    _pyi_private_set_type: Progress
    _pyi_private_get_type: Progress

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", Progress)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("default", None)
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Progress | None:
        data = super().from_db_value(value, expression, connection)
        return Progress.from_json(data) if data is not None else None

    def to_python(self, value: Any) -> Any:
        return Progress.from_json(value) if isinstance(value, dict) else value

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(value.to_json() if isinstance(value, Progress) else value)
