"""How far a resumable query has got, per side: a typed value stored as JSON on the handle.

A dense or sparse query has one side; a fused hybrid query has both, each with its own
buffer of candidates (see docs/resumable-queries.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import models

from search.models.vectors import Candidate


@dataclass
class SideProgress:
    """One side's buffer: `buffered` candidates at positions 1..buffered, of which the
    first `consumed` were handed out (or skipped); `last` is the keyset position of the
    last one buffered, where the next refill starts; `exhausted` once the search has
    nothing beyond the buffer."""

    consumed: int = 0
    buffered: int = 0
    last: Candidate | None = None
    exhausted: bool = False

    @property
    def remaining(self) -> int:
        return self.buffered - self.consumed

    @property
    def finished(self) -> bool:
        return self.exhausted and self.remaining == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SideProgress:
        last = data.get("last")
        return cls(
            consumed=data["consumed"],
            buffered=data["buffered"],
            last=Candidate(pk=last["pk"], distance=last["distance"]) if last else None,
            exhausted=data["exhausted"],
        )


@dataclass
class Progress:
    dense: SideProgress = field(default_factory=SideProgress)
    sparse: SideProgress = field(default_factory=SideProgress)

    def to_json(self) -> dict[str, Any]:
        return {"dense": self.dense.to_json(), "sparse": self.sparse.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(dense=SideProgress.from_json(data["dense"]), sparse=SideProgress.from_json(data["sparse"]))


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
