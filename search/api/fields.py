"""Strict DRF fields for the Upstash wire format: no silent coercion of wrong types."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from search.filtering import CompiledFilter, FilterError
from search.services.records import SparseValue, metadata_size
from search.services.sparse import SPARSE_DIMENSIONS

FLOAT32_MAX = 3.4028234663852886e38
# Doubles below this round to a finite float32 (at most FLOAT32_MAX); from it on they round
# to infinity. FLOAT32_MAX's shortest text form, 3.4028235e38, lies between the two.
FLOAT32_OVERFLOW = 2.0**128 - 2.0**103


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _is_float32(value: int | float) -> bool:
    """Finite and within float32 range; a JSON integer too long for a double is neither."""
    try:
        return math.isfinite(value) and abs(value) < FLOAT32_OVERFLOW
    except OverflowError:
        return False


def _has_lone_surrogate(text: str) -> bool:
    # JSON's \ud800 escapes decode to lone surrogates, which cannot be stored as UTF-8.
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _float32_values(data: list[Any]) -> list[float] | None:
    """The values as floats when every one is a number (not a bool) that `_is_float32`
    accepts, checked in one numpy pass (a bulk import checks millions); None when any is
    not, for the loop that names the first bad one."""
    if not set(map(type, data)) <= {float, int}:
        return None
    try:
        values = np.array(data, dtype=np.float64)  # each as float() converts it
    except OverflowError:  # an integer beyond any double
        return None
    if not (np.abs(values) < FLOAT32_OVERFLOW).all():  # NaN compares False too
        return None
    result: list[float] = values.tolist()
    return result


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "must be an integer"}

    def to_internal_value(self, data: Any) -> int:
        if type(data) is float and data.is_integer():
            data = int(data)
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data: Any) -> bool:
        if type(data) is not bool:
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "must be a string"}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "description": "A metadata filter (docs/api.md#filters)"})
class FilterField(serializers.Field[CompiledFilter, str, str, Any]):
    """A metadata filter, compiled here once: the services take the compiled form."""

    default_error_messages = {"invalid": "must be a string", "blank": "This field may not be blank."}

    def __init__(self, *, allow_blank: bool = True, **kwargs: Any) -> None:
        self.allow_blank = allow_blank
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> CompiledFilter:
        if not isinstance(data, str):
            self.fail("invalid")
        if data == "" and not self.allow_blank:
            self.fail("blank")
        try:
            return CompiledFilter.compile(data)
        except FilterError as error:
            raise serializers.ValidationError(error.detail) from None

    def to_representation(self, value: CompiledFilter) -> str:
        return value.text


@extend_schema_field({"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]})
class VectorIdField(serializers.Field[str, str | int, str, Any]):
    """A record id: a non-empty string, or a JSON integer kept as its decimal string."""

    default_error_messages = {
        "invalid": "must be a non-empty string or an integer",
        "too_long": "must be at most {max} characters",
    }

    def to_internal_value(self, data: Any) -> str:
        if type(data) is int:
            data = str(data)
        if not isinstance(data, str) or data == "":
            self.fail("invalid")
        if len(data) > settings.VECSITE_MAX_ID_LENGTH:
            self.fail("too_long", max=settings.VECSITE_MAX_ID_LENGTH)
        if "\x00" in data or _has_lone_surrogate(data):
            self.fail("invalid")
        return data

    def to_representation(self, value: str) -> str:
        return value


@extend_schema_field({"type": "array", "items": {"type": "number", "format": "float"}, "minItems": 1})
class DenseVectorField(serializers.Field[list[float], list[Any], list[float], Any]):
    default_error_messages = {
        "invalid": "must be an array of numbers",
        "empty": "must not be empty",
        "not_finite": "element {position} is not a finite 32-bit float",
        "too_long": "has more than {max} dimensions",
    }

    def to_internal_value(self, data: Any) -> list[float]:
        if not isinstance(data, list):
            self.fail("invalid")
        if not data:
            self.fail("empty")
        if len(data) > settings.VECSITE_MAX_DIMENSION:
            self.fail("too_long", max=settings.VECSITE_MAX_DIMENSION)
        fast = _float32_values(data)
        if fast is not None:
            return fast
        for position, value in enumerate(data):
            if not _is_number(value):
                self.fail("invalid")
            if not _is_float32(value):
                self.fail("not_finite", position=position)
        return [float(value) for value in data]

    def to_representation(self, value: list[float]) -> list[float]:
        return value


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "indices": {"type": "array", "items": {"type": "integer"}},
            "values": {"type": "array", "items": {"type": "number", "format": "float"}},
        },
        "required": ["indices", "values"],
        "description": "Repeated indices are merged into one entry, their values summed (docs/api.md#sparse-vectors).",
    }
)
class SparseVectorInputField(serializers.Field[SparseValue, dict[str, Any], dict[str, list[Any]], Any]):
    """A sparse vector, entries sorted by index. An index given more than once becomes one
    entry holding the sum of its values, as the hosted service accepts repeats (programs
    that build sparse vectors from token ids repeat indices all the time)."""

    default_error_messages = {
        "invalid": 'must be {{"indices": [int, ...], "values": [number, ...]}}',  # braces doubled for str.format
        "lengths": "indices and values must have the same length",
        "index_range": f"indices must be integers from 0 to {SPARSE_DIMENSIONS - 1} (pgvector's sparsevec limit)",
        "value": "values must be finite 32-bit floats",
        "sum": "the values of repeated index {index} add up beyond the 32-bit float range",
        "too_many": "at most {max} non-zero entries (repeated indices count once)",
    }

    def to_internal_value(self, data: Any) -> SparseValue:
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("indices"), list)
            or not isinstance(data.get("values"), list)
        ):
            self.fail("invalid")
        indices, values = data["indices"], data["values"]
        if len(indices) != len(values):
            self.fail("lengths")
        for index in indices:
            if type(index) is not int or not 0 <= index < SPARSE_DIMENSIONS:
                self.fail("index_range")
        for value in values:
            if not _is_number(value) or not _is_float32(value):
                self.fail("value")
        merged: dict[int, float] = {}
        for index, value in zip(indices, values, strict=True):
            merged[index] = merged.get(index, 0.0) + float(value)
        if len(merged) != len(indices):
            for index, total in merged.items():
                if not _is_float32(total):
                    self.fail("sum", index=index)
        limit = settings.VECSITE_MAX_SPARSE_ENTRIES
        if sum(1 for total in merged.values() if total != 0.0) > limit:
            self.fail("too_many", max=limit)
        ordered = sorted(merged.items())
        return SparseValue(indices=[i for i, _ in ordered], values=[v for _, v in ordered])

    def to_representation(self, value: SparseValue) -> dict[str, list[Any]]:
        return {"indices": value.indices, "values": value.values}


@extend_schema_field({"type": "object", "additionalProperties": True})
class MetadataField(serializers.Field[dict[str, Any], dict[str, Any], dict[str, Any], Any]):
    default_error_messages = {
        "invalid": "must be a JSON object",
        "too_large": "must be at most {max} bytes as JSON",
        "not_finite": "numbers must be finite (a literal such as 1e400 overflows)",
        "surrogate": "must not contain lone surrogate characters",
        "nul": "must not contain NUL characters",
        "too_deep": "must not be nested more than {max} levels deep",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("invalid")
        # Walked before anything recursive (json.dumps, the database driver) sees it.
        problem = _text_problem(data, settings.VECSITE_MAX_METADATA_DEPTH)
        if problem is not None:
            self.fail(problem, max=settings.VECSITE_MAX_METADATA_DEPTH)
        try:
            size = metadata_size(data)
        except ValueError:  # 1e400 parses as inf, which Postgres' jsonb cannot hold
            self.fail("not_finite")
        if size > settings.VECSITE_MAX_METADATA_BYTES:
            self.fail("too_large", max=settings.VECSITE_MAX_METADATA_BYTES)
        return data

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


def _text_problem(value: Any, max_depth: int) -> str | None:
    """What is wrong with a JSON value's nesting or texts (keys and strings), without
    recursion: "too_deep", "nul" (Postgres' jsonb cannot hold U+0000; the six characters
    `\\u0000` are fine), "surrogate", or None."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                return "too_deep"
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > max_depth:
                return "too_deep"
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "nul"
            if _has_lone_surrogate(item):
                return "surrogate"
    return None


class DataField(StrictCharField):
    default_error_messages = {"too_large": "must be at most {max} bytes"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if _has_lone_surrogate(value):
            raise serializers.ValidationError("must not contain lone surrogate characters")
        if len(value.encode()) > settings.VECSITE_MAX_DATA_BYTES:
            self.fail("too_large", max=settings.VECSITE_MAX_DATA_BYTES)
        if "\x00" in value:
            raise serializers.ValidationError("must not contain NUL characters")
        return value
