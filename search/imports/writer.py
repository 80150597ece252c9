"""Writing a validated batch with COPY, as `vectors_upsert` would write it.

New ids are copied straight into `search_vector`, numbered from the namespace's counter
in order of first appearance; ids already stored are copied into a temporary table and
replaced whole from there, keeping their row (so their number and tie-break place) as an
upsert does. Within a batch a later item with the same id wins. The namespace row is
locked for the batch, so API writes beside the load keep the counters right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import F
from pgvector.psycopg.sparsevec import register_sparsevec_info
from pgvector.psycopg.vector import register_vector_info
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb

from search.models import Index, Namespace
from search.services import sparse as sparse_codec
from search.services.records import RecordInput
from search.services.vectors import upsert_batch

COLUMNS = ("embedding", "sparse", "sparse_indices", "metadata", "data")
TYPES = ("vector", "sparsevec", "int4[]", "jsonb", "text")


@dataclass(frozen=True)
class Written:
    inserted: int
    replaced: int


def write_batch(*, index: Index, namespace: str, records: Sequence[RecordInput]) -> Written:
    """Upsert the records in the caller's transaction (which must be open)."""
    assert transaction.get_connection().in_atomic_block
    if not records:
        return Written(0, 0)
    batch = upsert_batch(index=index, namespace=namespace, records=records)
    ns = batch.namespace
    replaced = [record for key, record in batch.latest.items() if key in batch.stored_numbers]
    new = [record for key, record in batch.latest.items() if key not in batch.stored_numbers]
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own, for COPY
        _register_types(cursor)
        if new:
            columns = ", ".join(("index_id", "namespace_id", "key", "number", *COLUMNS))
            with cursor.copy(f"COPY search_vector ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "int8", "text", "int8", *TYPES])
                for number, record in enumerate(new, start=ns.last_number + 1):
                    copy.write_row((index.pk, ns.pk, record.id, number, *_parts(record)))
        if replaced:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS import_stage (key text PRIMARY KEY, embedding vector, "
                "sparse sparsevec, sparse_indices int4[], metadata jsonb, data text) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY import_stage (key, {', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", *TYPES])
                for record in replaced:
                    copy.write_row((record.id, *_parts(record)))
            assignments = ", ".join(f"{column} = s.{column}" for column in COLUMNS)
            cursor.execute(
                f"UPDATE search_vector v SET {assignments} FROM import_stage s "  # noqa: S608 - our column names
                "WHERE v.namespace_id = %s AND v.key = s.key",
                [ns.pk],
            )
    if new:
        Namespace.objects.filter(pk=ns.pk).update(
            vector_count=F("vector_count") + len(new), last_number=F("last_number") + len(new)
        )
    return Written(inserted=len(new), replaced=len(replaced))


def _parts(record: RecordInput) -> tuple[Any, ...]:
    """The stored columns, as `vectors_upsert` stores them: float32 vectors, zero sparse
    entries dropped, the non-zero indices beside them."""
    sparse = record.sparse
    return (
        np.asarray(record.vector, dtype=np.float32) if record.vector is not None else None,
        sparse_codec.to_db(sparse) if sparse is not None else None,
        sparse_codec.non_zero_indices(sparse) if sparse is not None else None,
        Jsonb(record.metadata) if record.metadata is not None else None,
        record.data,
    )


def _register_types(cursor: Any) -> None:
    # pgvector's binary dumpers on this cursor only, not on Django's connection.
    for name, register in (("vector", register_vector_info), ("sparsevec", register_sparsevec_info)):
        info = TypeInfo.fetch(cursor.connection, name)
        assert info is not None
        register(cursor, info)
