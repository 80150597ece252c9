"""Writing and reading records: upsert, fetch, range, update, delete."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet, TextField
from django.db.models.functions import Cast

from search.errors import InvalidInput
from search.filtering import CompiledFilter
from search.models import Index, Namespace, PartsUse, Vector
from search.services import embedding
from search.services import sparse as sparse_codec
from search.services.namespaces import namespace_find, namespace_lock
from search.services.records import Include, RecordInput, RecordUpdate, StoredRecord, metadata_size


@transaction.atomic
def vectors_upsert(*, index: Index, namespace: str, records: Sequence[RecordInput]) -> None:
    """Insert or fully replace records; the batch is all-or-nothing. A new record takes
    the namespace's next number (docs/api.md#range-cursors); a replaced one keeps its own.
    Four statements whatever the batch size (and one more per 500 records)."""
    for position, record in enumerate(records):
        index.check_parts(record.vector, record.sparse, use=PartsUse.RECORD, field=f"[{position}]")
    if not records:
        return
    batch = upsert_batch(index=index, namespace=namespace, records=records)
    ns, latest, numbers = batch.namespace, batch.latest, dict(batch.stored_numbers)
    last = ns.last_number
    for key in latest:
        if key not in numbers:
            last += 1
            numbers[key] = last
    Vector.objects.bulk_create(
        [
            Vector(
                index=index,
                namespace=ns,
                key=record.id,
                number=numbers[record.id],
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
    inserted = last - ns.last_number
    if inserted:
        Namespace.objects.filter(pk=ns.pk).update(vector_count=F("vector_count") + inserted, last_number=last)


@dataclass(frozen=True)
class UpsertBatch:
    """A batch about to be written: its namespace's row, locked until the commit; its
    records by id, a later item with the same id replacing an earlier one as sequential
    upserts would; and the numbers of the ids already stored, which the row lock keeps
    right until the commit."""

    namespace: Namespace
    latest: dict[str, RecordInput]
    stored_numbers: dict[str, int]


def upsert_batch(*, index: Index, namespace: str, records: Sequence[RecordInput]) -> UpsertBatch:
    """Lock the namespace (made if new) and sort the records out for an upsert; the API's
    upsert and import_vectors' COPY writer share it."""
    latest: dict[str, RecordInput] = {}
    for record in records:
        latest[record.id] = record
    ns = namespace_lock(index=index, name=namespace, create=True)
    assert ns is not None
    numbers = dict(Vector.objects.filter(namespace=ns, key__in=list(latest)).values_list("key", "number"))
    return UpsertBatch(namespace=ns, latest=latest, stored_numbers=numbers)


def vectors_upsert_data(*, index: Index, namespace: str, records: Sequence[RecordInput]) -> None:
    """Upsert records given as text: each `data` is embedded by the index's model(s)."""
    parts = embedding.embed_documents(index, [record.data or "" for record in records])
    embedded = [
        dataclasses.replace(record, vector=vector, sparse=sparse)
        for record, (vector, sparse) in zip(records, parts, strict=True)
    ]
    vectors_upsert(index=index, namespace=namespace, records=embedded)


def _with_parts(queryset: QuerySet[Vector], include: Include) -> QuerySet[Vector]:
    return queryset.annotate(
        embedding_text=Cast("embedding", TextField()) if include.vectors else None,
        sparse_text=Cast("sparse", TextField()) if include.vectors else None,
    )


def records_by_pk(
    pks: Iterable[int], include: Include, compiled: CompiledFilter | None = None
) -> dict[int, StoredRecord]:
    """The records with these primary keys that still exist (and still match the filter)."""
    fields = ["pk", "key"]
    queryset: QuerySet[Vector] = Vector.objects.filter(pk__in=list(pks)).matching(compiled)
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
        # pgvector prints each float32 in its shortest round-tripping form, a JSON array:
        # orjson reads it to the same doubles as json, 3-4x faster (deep resumable pages
        # read hundreds of vectors a call).
        vector=orjson.loads(embedding_text) if embedding_text else None,
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
    limit = settings.VECSITE_MAX_FETCH_PREFIX  # the first ones, as the hosted service answers
    queryset = Vector.objects.filter(namespace=ns, key__startswith=prefix).order_by("number")[:limit]
    return list(_read(queryset, include))


def vectors_range(
    *, index: Index, namespace: str, cursor: int, limit: int, prefix: str, include: Include
) -> tuple[str, list[StoredRecord]]:
    """A page in insertion order (docs/api.md#range-cursors). The cursor is the number of
    the last record seen in its namespace: keyset paging on the (namespace, number) index,
    so a page costs the same at any depth and deletes between pages skip nothing."""
    ns = namespace_find(index=index, name=namespace)
    if ns is None:
        return "", []
    queryset = Vector.objects.filter(namespace=ns, number__gt=cursor)
    if prefix:
        queryset = queryset.filter(key__startswith=prefix)
    page = list(queryset.order_by("number").values_list("pk", "number")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    found = records_by_pk((pk for pk, _ in page), include)
    next_cursor = str(page[-1][1]) if more else ""
    return next_cursor, [found[pk] for pk, _ in page if pk in found]


@transaction.atomic
def vectors_delete(
    *,
    index: Index,
    namespace: str,
    ids: Sequence[str] | None = None,
    prefix: str | None = None,
    filter: CompiledFilter | None = None,
) -> int:
    """Delete by ids, by id prefix or by metadata filter (exactly one of them)."""
    if filter is not None and filter.matches_all:
        # Deleting everything is `reset`; an empty filter is a mistake, not a request.
        raise InvalidInput("must not be empty", field="filter")
    ns = namespace_lock(index=index, name=namespace, create=False)
    if ns is None:
        return 0
    queryset = Vector.objects.in_namespace(ns)
    if ids is not None:
        queryset = queryset.filter(key__in=set(ids))
    elif prefix is not None:
        queryset = queryset.filter(key__startswith=prefix)
    elif filter is not None:
        queryset = queryset.matching(filter)
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
def vector_update(*, index: Index, namespace: str, update: RecordUpdate) -> bool:
    """Update one record; False when it does not exist. New `data` on an index with
    embedding models re-embeds its vector parts (docs/api.md#update)."""
    vector, sparse = update.vector, update.sparse
    if update.data is not None and index.has_models:
        [(vector, sparse)] = embedding.embed_documents(index, [update.data])
    index.check_parts(vector, sparse, use=PartsUse.UPDATE)
    ns = namespace_find(index=index, name=namespace)
    if ns is None:
        return False
    row = Vector.objects.select_for_update().filter(namespace=ns, key=update.id).first()
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
    if update.data is not None:
        row.data = update.data
        fields.append("data")
    if update.metadata is not None:
        row.metadata = merge_patch(row.metadata, update.metadata) if update.patch_metadata else update.metadata
        # A patch is checked on its own by the API; what is stored is the merged object.
        if update.patch_metadata and metadata_size(row.metadata) > settings.VECSITE_MAX_METADATA_BYTES:
            raise InvalidInput(
                f"merged into the stored metadata, must be at most {settings.VECSITE_MAX_METADATA_BYTES} bytes as JSON",
                field="metadata",
            )
        fields.append("metadata")
    if fields:
        row.save(update_fields=sorted(set(fields)))
    return True
