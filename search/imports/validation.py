"""Raw items to records, by the API's own rules: the upsert serializers for shape, the
index's `check_parts` for dimension and parts, the embedding service for text items."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rest_framework import serializers

from search.api.errors import first_error
from search.api.serializers import UpsertDataItemSerializer, UpsertItemSerializer, record_from
from search.errors import ServiceError
from search.imports.sources import RawItem
from search.models import Index, PartsUse
from search.services import embedding
from search.services.records import RecordInput


class BadRecord(Exception):
    """A record the API would refuse: its line and the API's message (`field: what`)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def is_text_item(index: Index, item: dict[str, Any]) -> bool:
    """An item with `data` and no vector parts, for an index with a model: what the API
    takes on `upsert-data` (embedded), where `upsert` would store the text beside vectors."""
    return (
        index.has_models
        and item.get("data") is not None
        and item.get("vector") is None
        and item.get("sparseVector") is None
    )


def validate_batch(index: Index, raw: Sequence[RawItem]) -> list[RecordInput]:
    """The batch's records in file order; the first bad one (by line) raises BadRecord."""
    for entry in raw:
        if entry.error is not None:
            raise BadRecord(entry.line, entry.error)
        if not isinstance(entry.item, dict):
            raise BadRecord(entry.line, "must be a JSON object")
    text = [entry for entry in raw if is_text_item(index, entry.item)]
    vectors = [entry for entry in raw if not is_text_item(index, entry.item)]
    # As the API: every item's shape first, then the index's rules item by item.
    validated, errors = _shape(UpsertItemSerializer, vectors)
    validated_text, text_errors = _shape(UpsertDataItemSerializer, text)
    if errors or text_errors:
        raise min(errors + text_errors, key=lambda bad: bad.line)
    if text:
        try:
            parts = embedding.embed_documents(index, [validated_text[entry.line].data or "" for entry in text])
        except ServiceError as error:  # the index lacks the model a part needs
            raise BadRecord(text[0].line, str(error)) from None
        for entry, (vector, sparse) in zip(text, parts, strict=True):
            validated[entry.line] = dataclasses.replace(validated_text[entry.line], vector=vector, sparse=sparse)
    records = []
    for entry in raw:
        record = validated[entry.line]
        try:
            index.check_parts(record.vector, record.sparse, use=PartsUse.RECORD)
        except ServiceError as error:
            raise BadRecord(entry.line, str(error)) from None
        records.append(record)
    return records


def _shape(
    serializer_class: type[serializers.Serializer[Any]], raw: list[RawItem]
) -> tuple[dict[int, RecordInput], list[BadRecord]]:
    """Validate items with the API's serializer, one list serializer a batch as the API
    does; the records by line, or the bad ones."""
    if not raw:
        return {}, []
    serializer = serializer_class(data=[entry.item for entry in raw], many=True)
    if not serializer.is_valid():
        errors: list[Any] = serializer.errors  # type: ignore[assignment]  # a list with many=True
        return {}, [
            BadRecord(entry.line, first_error(error)) for entry, error in zip(raw, errors, strict=True) if error
        ]
    return {entry.line: record_from(data) for entry, data in zip(raw, serializer.validated_data, strict=True)}, []
