"""Input serializers: they validate and shape the wire format, nothing more."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from search.api.fields import (
    DataField,
    DenseVectorField,
    FilterField,
    MetadataField,
    SparseVectorInputField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    VectorIdField,
)
from search.models import Fusion, QueryMode, Weighting
from search.services.records import Include, RecordInput, RecordUpdate
from search.services.specs import QuerySpec

ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def top_k_field(**kwargs: Any) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=settings.VECSITE_MAX_TOP_K, **kwargs)


class IncludeMixin(serializers.Serializer[Any]):
    includeVectors = StrictBooleanField(required=False, allow_null=True, default=False)
    includeMetadata = StrictBooleanField(required=False, allow_null=True, default=False)
    includeData = StrictBooleanField(required=False, allow_null=True, default=False)

    def include(self) -> Include:
        return include_from(self.validated_data)


def include_from(data: dict[str, Any]) -> Include:
    return Include(
        vectors=bool(data.get("includeVectors")),
        metadata=bool(data.get("includeMetadata")),
        data=bool(data.get("includeData")),
    )


class UpsertItemSerializer(serializers.Serializer[Any]):
    id = VectorIdField()
    vector = DenseVectorField(required=False, allow_null=True)
    sparseVector = SparseVectorInputField(required=False, allow_null=True)
    metadata = MetadataField(required=False, allow_null=True)
    data = DataField(required=False, allow_null=True)  # type: ignore[assignment]  # as above

    def record(self) -> RecordInput:
        return record_from(self.validated_data)


def record_from(data: dict[str, Any]) -> RecordInput:
    return RecordInput(
        id=data["id"],
        vector=data.get("vector"),
        sparse=data.get("sparseVector"),
        metadata=data.get("metadata"),
        data=data.get("data"),
    )


class UpsertDataItemSerializer(serializers.Serializer[Any]):
    id = VectorIdField()
    data = DataField()  # type: ignore[assignment]  # the wire's field name; Serializer.data is the output
    metadata = MetadataField(required=False, allow_null=True)


class QueryOptionsSerializer(IncludeMixin):
    """What vector and data queries share: how many, which, and how to weigh and fuse."""

    topK = top_k_field(required=False, allow_null=True, default=10)
    filter = FilterField(required=False, allow_null=True, default=None)
    weightingStrategy = serializers.ChoiceField(choices=Weighting.choices, required=False, allow_null=True)
    fusionAlgorithm = serializers.ChoiceField(choices=Fusion.choices, required=False, allow_null=True)
    queryMode = serializers.ChoiceField(choices=QueryMode.choices, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # null means absent: apply the defaults to explicit nulls too.
        attrs["topK"] = attrs.get("topK") or 10
        return attrs


def query_spec(data: dict[str, Any], *, namespace: str) -> QuerySpec:
    """A validated query (vector or data) as the spec the services take."""
    compiled = data.get("filter")
    return QuerySpec(
        namespace=namespace,
        vector=data.get("vector"),
        sparse=data.get("sparseVector"),
        data=data.get("data"),
        mode=QueryMode(data.get("queryMode") or QueryMode.HYBRID),
        top_k=data["topK"],
        include=include_from(data),
        filter=compiled if compiled is not None and not compiled.matches_all else None,
        weighting=Weighting(data["weightingStrategy"]) if data.get("weightingStrategy") else None,
        fusion=Fusion(data.get("fusionAlgorithm") or Fusion.RRF),
    )


class QuerySerializer(QueryOptionsSerializer):
    vector = DenseVectorField(required=False, allow_null=True)
    sparseVector = SparseVectorInputField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("vector") is None and attrs.get("sparseVector") is None:
            raise serializers.ValidationError({"vector": "a query needs a vector or a sparseVector"})
        return super().validate(attrs)


class QueryDataSerializer(QueryOptionsSerializer):
    data = DataField()  # type: ignore[assignment]  # the wire's field name; Serializer.data is the output


class MaxIdleMixin(serializers.Serializer[Any]):
    maxIdle = StrictIntegerField(required=False, allow_null=True, min_value=1)

    def validate_maxIdle(self, value: int | None) -> int | None:
        ceiling = settings.VECSITE_RESUMABLE_MAX_MAX_IDLE  # read per request: a setting, not a constant
        if value is not None and value > ceiling:
            raise serializers.ValidationError(f"Ensure this value is less than or equal to {ceiling}.")
        return value


class ResumableQuerySerializer(MaxIdleMixin, QuerySerializer):
    pass


class ResumableQueryDataSerializer(MaxIdleMixin, QueryDataSerializer):
    pass


class ResumableHandleField(serializers.UUIDField):
    """A handle from resumable-query, or "" (None here): the handle of a query that never
    started because its namespace does not exist. The Python SDK still sends next/end for
    it (its handle, and so `with handle:`, does not check for ""), so those must succeed."""

    default_error_messages = {"invalid": "must be a resumable query handle (a UUID)"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="hex_verbose", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):  # DRF's UUIDField would take 5, or true, as UUID(int=...)
            self.fail("invalid")
        if data == "":
            return None
        return super().to_internal_value(data)


class ResumableNextSerializer(serializers.Serializer[Any]):
    uuid = ResumableHandleField()
    additionalK = top_k_field()


class ResumableEndSerializer(serializers.Serializer[Any]):
    uuid = ResumableHandleField()


class FetchSerializer(IncludeMixin):
    ids = serializers.ListField(
        child=VectorIdField(), required=False, allow_null=True, max_length=settings.VECSITE_MAX_IDS
    )
    prefix = StrictCharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("ids") is None) == (attrs.get("prefix") is None):
            raise serializers.ValidationError({"ids": "Only one of ids or prefix must be provided."})
        return attrs


class DeleteSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=VectorIdField(), required=False, allow_null=True, max_length=settings.VECSITE_MAX_IDS
    )
    prefix = StrictCharField(required=False, allow_null=True, allow_blank=False, trim_whitespace=False)
    filter = FilterField(required=False, allow_null=True, allow_blank=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("ids", "prefix", "filter") if attrs.get(name) is not None]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"ids": "Only and only one of the ids, prefix, or filter must be provided."}
            )
        return attrs


BIGINT_MAX = 2**63 - 1


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "pattern": "^[0-9]*$"}, {"type": "integer", "minimum": 0}],
        "description": 'A nextCursor from an earlier range call; "", "0", 0 or absent start at the beginning.',
    }
)
class RangeCursorField(serializers.Field[int, str | int, str, Any]):
    """A range cursor: the number of the last record seen (docs/api.md#range-cursors).

    Only ASCII digits: `str.isdigit` would also take superscript, circled, full-width or
    Arabic-Indic digits, which are no cursor this server ever gave (and Python's int()
    reads some of them as numbers, others not at all)."""

    default_error_messages = {"invalid": "must be a cursor returned by an earlier range call"}

    def to_internal_value(self, data: Any) -> int:
        if type(data) is int:
            number = data
        elif isinstance(data, str) and (data == "" or ASCII_DIGITS.fullmatch(data)):
            digits = data.lstrip("0")
            if len(digits) > len(str(BIGINT_MAX)):  # before int(), which refuses 4,301 digits
                self.fail("invalid")
            number = int(digits) if digits else 0
        else:
            self.fail("invalid")
        if number < 0:
            self.fail("invalid")
        if number > BIGINT_MAX:
            self.fail("invalid")
        return number

    def to_representation(self, value: int) -> str:
        return str(value)


class RangeSerializer(IncludeMixin):
    cursor = RangeCursorField(required=False, allow_null=True)
    limit = StrictIntegerField(min_value=1, max_value=settings.VECSITE_MAX_TOP_K)
    prefix = StrictCharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)


class UpdateSerializer(serializers.Serializer[Any]):
    id = VectorIdField()
    vector = DenseVectorField(required=False, allow_null=True)
    sparseVector = SparseVectorInputField(required=False, allow_null=True)
    data = DataField(required=False, allow_null=True)  # type: ignore[assignment]  # as above
    metadata = MetadataField(required=False, allow_null=True)
    metadataUpdateMode = serializers.ChoiceField(
        choices=["OVERWRITE", "PATCH"], required=False, allow_null=True, default="OVERWRITE"
    )

    def update_value(self) -> RecordUpdate:
        data = self.validated_data
        return RecordUpdate(
            id=data["id"],
            vector=data.get("vector"),
            sparse=data.get("sparseVector"),
            data=data.get("data"),
            metadata=data.get("metadata"),
            patch_metadata=data.get("metadataUpdateMode") == "PATCH",
        )


class RenameNamespaceSerializer(serializers.Serializer[Any]):
    namespace = StrictCharField(allow_blank=True, trim_whitespace=False)
    newNamespace = StrictCharField(allow_blank=True, trim_whitespace=False)
    deleteExisting = StrictBooleanField(required=False, allow_null=True, default=False)
