"""Sparse vectors in pgvector's `sparsevec`, and IDF weights over a namespace.

Upstash indices map to sparsevec positions.

sparsevec positions run from 0 to 999,999,999 (pgvector's own limit on dimensions), so
negative indices and indices of a billion or more cannot be stored; they are refused
with a clear error instead of being folded onto other positions.
"""

from __future__ import annotations

import json
import math
import re

from django.db import connection
from pgvector import SparseVector

from search.models import Namespace, Vector
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


def idf_weighted(namespace: Namespace, sparse: SparseValue) -> SparseValue:
    """Scale each query dimension by IDF(i) = ln((N - n(i) + 0.5) / (n(i) + 0.5) + 1).

    N and n(i) are counted per namespace at query time (GIN lookups on the indices
    array), so they are right after every upsert, update and delete by construction."""
    frequencies = document_frequencies(namespace, sparse.indices)
    total = Vector.objects.filter(namespace=namespace, sparse_indices__isnull=False).count()
    values = [
        value * math.log((total - frequencies.get(i, 0) + 0.5) / (frequencies.get(i, 0) + 0.5) + 1.0)
        for i, value in zip(sparse.indices, sparse.values, strict=True)
    ]
    return SparseValue(indices=list(sparse.indices), values=values)


def document_frequencies(namespace: Namespace, indices: list[int]) -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i, (SELECT count(*) FROM search_vector v "
            "           WHERE v.namespace_id = %s AND v.sparse_indices @> ARRAY[i]) "
            "FROM unnest(%s::int[]) AS i",
            [namespace.pk, list(indices)],
        )
        return dict(cursor.fetchall())
