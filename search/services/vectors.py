"""Writing and reading records: upsert, fetch, range, update, delete."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet, TextField
from django.db.models.functions import Cast

from search.errors import InvalidInput, SemanticError
from search.models import Index, Namespace, Vector
from search.services import sparse as sparse_codec
from search.services.namespaces import namespace_find, namespace_lock
from search.services.records import Include, RecordInput, SparseValue, StoredRecord

FETCH_PREFIX_LIMIT = 1000
# Half the smallest float32 subnormal (2**-149): doubles up to it round to 0 in float32.
FLOAT32_ZERO_BELOW = 2.0**-150


def check_dense(index: Index, vector: Sequence[float], *, field: str) -> None:
    if len(vector) != index.dimension:
        raise SemanticError(f"Invalid vector dimension: {len(vector)}, expected: {index.dimension}", field=field)
    # Judge the float32 values that get stored: [1e-46, 1e-46] is a zero vector there.
    if index.similarity == "COSINE" and not any(abs(x) > FLOAT32_ZERO_BELOW for x in vector):
        raise InvalidInput("a zero vector has no direction, so COSINE similarity is undefined for it", field=field)


def check_record_for_index(index: Index, record: RecordInput, *, field: str) -> None:
    """The parts an index type requires (spec §3), and their sizes."""
    if index.has_dense:
        if record.vector is None:
            raise SemanticError(f"this {index.index_type} index needs a dense vector", field=f"{field}.vector")
        check_dense(index, record.vector, field=f"{field}.vector")
    elif record.vector is not None:
        raise SemanticError("this SPARSE index takes no dense vector", field=f"{field}.vector")
    if index.has_sparse:
        if record.sparse is None:
            raise SemanticError(f"this {index.index_type} index needs a sparse vector", field=f"{field}.sparseVector")
    elif record.sparse is not None:
        raise SemanticError("this DENSE index takes no sparse vector", field=f"{field}.sparseVector")


@transaction.atomic
def vectors_upsert(*, index: Index, namespace: str, records: Sequence[RecordInput]) -> None:
    """Insert or fully replace records; the batch is all-or-nothing."""
    for position, record in enumerate(records):
        check_record_for_index(index, record, field=f"[{position}]")
    if not records:
        return
    # A later item with the same id replaces an earlier one, as sequential upserts would.
    latest: dict[str, RecordInput] = {}
    for record in records:
        latest[record.id] = record
    ns = namespace_lock(index=index, name=namespace, create=True)
    assert ns is not None
    existing = Vector.objects.filter(namespace=ns, key__in=list(latest)).count()
    Vector.objects.bulk_create(
        [
            Vector(
                index=index,
                namespace=ns,
                key=record.id,
                embedding=record.vector,
                sparse=sparse_codec.to_db(record.sparse) if record.sparse is not None else None,
                sparse_indices=sparse_codec.non_zero_indices(record.sparse) if record.sparse is not None else None,
                metadata=record.metadata,
                data=record.data,
            )
            for record in latest.values()
        ],
        update_conflicts=True,
        unique_fields=["namespace", "key"],
        update_fields=["embedding", "sparse", "sparse_indices", "metadata", "data"],
        batch_size=500,
    )
    inserted = len(latest) - existing
    if inserted:
        Namespace.objects.filter(pk=ns.pk).update(vector_count=F("vector_count") + inserted)


def _with_parts(queryset: QuerySet[Vector], include: Include) -> QuerySet[Vector]:
    return queryset.annotate(
        embedding_text=Cast("embedding", TextField()) if include.vectors else None,
        sparse_text=Cast("sparse", TextField()) if include.vectors else None,
    )


def records_by_pk(
    pks: Iterable[int], include: Include, filter_sql: tuple[str, list[Any]] | None = None
) -> dict[int, StoredRecord]:
    """The records with these primary keys that still exist (and still match the filter)."""
    fields = ["pk", "key"]
    queryset = Vector.objects.filter(pk__in=list(pks))
    if filter_sql is not None:
        queryset = queryset.extra(where=[filter_sql[0]], params=filter_sql[1])  # noqa: S610 - values bound
    if include.vectors:
        queryset = _with_parts(queryset, include)
        fields += ["embedding_text", "sparse_text"]
    if include.metadata:
        fields.append("metadata")
    if include.data:
        fields.append("data")
    return {row["pk"]: _stored(row) for row in queryset.values(*fields)}


def _stored(row: dict[str, Any]) -> StoredRecord:
    embedding_text = row.get("embedding_text")
    sparse_text = row.get("sparse_text")
    return StoredRecord(
        pk=row["pk"],
        id=row["key"],
        # pgvector prints each float32 in its shortest round-tripping form.
        vector=json.loads(embedding_text) if embedding_text else None,
        sparse=sparse_codec.from_text(sparse_text) if sparse_text else None,
        metadata=row.get("metadata"),
        data=row.get("data"),
    )


def _read(queryset: QuerySet[Vector], include: Include) -> list[StoredRecord]:
    pks = list(queryset.values_list("pk", flat=True))
    found = records_by_pk(pks, include)
    return [found[pk] for pk in pks if pk in found]


def vectors_fetch(
    *, index: Index, namespace: str, ids: Sequence[str] | None, prefix: str | None, include: Include
) -> list[StoredRecord | None]:
    ns = namespace_find(index=index, name=namespace)
    if ids is not None:
        if ns is None:
            return [None] * len(ids)
        rows = _read(Vector.objects.filter(namespace=ns, key__in=set(ids)), include)
        by_key = {row.id: row for row in rows}
        return [by_key.get(key) for key in ids]
    assert prefix is not None
    if ns is None:
        return []
    queryset = Vector.objects.filter(namespace=ns, key__startswith=prefix).order_by("pk")[:FETCH_PREFIX_LIMIT]
    return list(_read(queryset, include))


def vectors_range(
    *, index: Index, namespace: str, cursor: int, limit: int, prefix: str, include: Include
) -> tuple[str, list[StoredRecord]]:
    """A page in insertion order. The cursor is the last primary key seen (keyset paging)."""
    ns = namespace_find(index=index, name=namespace)
    if ns is None:
        return "", []
    queryset = Vector.objects.filter(namespace=ns, pk__gt=cursor)
    if prefix:
        queryset = queryset.filter(key__startswith=prefix)
    page = list(queryset.order_by("pk").values_list("pk", flat=True)[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    found = records_by_pk(page, include)
    next_cursor = str(page[-1]) if more else ""
    return next_cursor, [found[pk] for pk in page if pk in found]


@transaction.atomic
def vectors_delete(
    *,
    index: Index,
    namespace: str,
    ids: Sequence[str] | None = None,
    prefix: str | None = None,
    filter_sql: tuple[str, list[Any]] | None = None,
) -> int:
    ns = namespace_lock(index=index, name=namespace, create=False)
    if ns is None:
        return 0
    queryset = Vector.objects.filter(namespace=ns)
    if ids is not None:
        queryset = queryset.filter(key__in=set(ids))
    elif prefix is not None:
        queryset = queryset.filter(key__startswith=prefix)
    elif filter_sql is not None:
        sql, params = filter_sql
        queryset = queryset.extra(where=[sql], params=params)  # noqa: S610 - compiled filter, values bound
    deleted, _ = queryset.delete()
    if deleted:
        Namespace.objects.filter(pk=ns.pk).update(vector_count=F("vector_count") - deleted)
    return deleted


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@transaction.atomic
def vector_update(
    *,
    index: Index,
    namespace: str,
    id: str,
    vector: list[float] | None = None,
    sparse: SparseValue | None = None,
    data: str | None = None,
    metadata: dict[str, Any] | None = None,
    patch_metadata: bool = False,
) -> bool:
    if vector is not None:
        if not index.has_dense:
            raise SemanticError("this SPARSE index takes no dense vector", field="vector")
        check_dense(index, vector, field="vector")
    if sparse is not None and not index.has_sparse:
        raise SemanticError("this DENSE index takes no sparse vector", field="sparseVector")
    if index.index_type == "HYBRID" and (vector is None) != (sparse is None):
        raise SemanticError("a HYBRID index updates both vector and sparseVector, or neither", field="vector")
    ns = namespace_find(index=index, name=namespace)
    if ns is None:
        return False
    row = Vector.objects.select_for_update().filter(namespace=ns, key=id).first()
    if row is None:
        return False
    fields = []
    if vector is not None:
        row.embedding = vector
        fields.append("embedding")
    if sparse is not None:
        row.sparse = sparse_codec.to_db(sparse)
        row.sparse_indices = sparse_codec.non_zero_indices(sparse)
        fields += ["sparse", "sparse_indices"]
    if data is not None:
        row.data = data
        fields.append("data")
    if metadata is not None:
        row.metadata = merge_patch(row.metadata, metadata) if patch_metadata else metadata
        fields.append("metadata")
    if fields:
        row.save(update_fields=sorted(set(fields)))
    return True
