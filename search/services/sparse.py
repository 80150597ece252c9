"""Sparse vectors in pgvector's `sparsevec`: Upstash indices map to sparsevec positions.

sparsevec positions run from 0 to 999,999,999 (pgvector's own limit on dimensions), so
negative indices and indices of a billion or more cannot be stored; they are refused
with a clear error instead of being folded onto other positions.
"""

from __future__ import annotations

import json
import re

from pgvector import SparseVector

from search.services.records import SparseValue

SPARSE_DIMENSIONS = 1_000_000_000
MAX_NON_ZERO = 1000

_TEXT = re.compile(r"^\{(.*)\}/(\d+)$")


def to_db(value: SparseValue) -> SparseVector:
    return SparseVector({i: v for i, v in zip(value.indices, value.values, strict=True) if v != 0.0}, SPARSE_DIMENSIONS)


def non_zero_indices(value: SparseValue) -> list[int]:
    return [i for i, v in zip(value.indices, value.values, strict=True) if v != 0.0]


def from_text(text: str) -> SparseValue:
    """Parse pgvector's text form `{1:0.5,7:0.25}/dim` (1-based) keeping float32 digits."""
    match = _TEXT.match(text)
    if match is None or not match.group(1):
        return SparseValue(indices=[], values=[])
    indices: list[int] = []
    values: list[float] = []
    for pair in match.group(1).split(","):
        position, value = pair.split(":")
        indices.append(int(position) - 1)
        values.append(json.loads(value))
    return SparseValue(indices=indices, values=values)


def from_db(value: SparseVector) -> SparseValue:
    return SparseValue(indices=list(value.indices()), values=[float(v) for v in value.values()])
