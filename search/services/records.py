"""Plain values passed between the API layer and the services."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def metadata_size(metadata: dict[str, Any]) -> int:
    """Bytes of the metadata as JSON, what VECSITE_MAX_METADATA_BYTES caps. ValueError
    for a number JSON cannot hold (inf)."""
    return len(json.dumps(metadata, ensure_ascii=False, allow_nan=False).encode())


@dataclass(frozen=True)
class SparseValue:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class RecordInput:
    """One record to upsert, validated for shape (not yet against its index)."""

    id: str
    vector: list[float] | None = None
    sparse: SparseValue | None = None
    metadata: dict[str, Any] | None = None
    data: str | None = None


@dataclass(frozen=True)
class Include:
    vectors: bool = False
    metadata: bool = False
    data: bool = False


@dataclass
class StoredRecord:
    """One record as read back, with only the parts that were asked for."""

    pk: int
    id: str
    vector: list[float] | None = None
    sparse: SparseValue | None = None
    metadata: dict[str, Any] | None = None
    data: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class RecordUpdate:
    """An `update` of one record: the parts given replace the stored ones; metadata is
    replaced, or merged into the stored metadata (RFC 7396) when `patch_metadata`."""

    id: str
    vector: list[float] | None = None
    sparse: SparseValue | None = None
    data: str | None = None
    metadata: dict[str, Any] | None = None
    patch_metadata: bool = False
