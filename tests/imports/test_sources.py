"""A JSON Lines record reads to what the API's parser makes of the same text, or to its
error, though most lines are read by orjson."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.utils import json as drf_json

from search.api.fields import DenseVectorField
from search.imports.sources import parse_json

LINES = [
    b'{"id": "a", "vector": [0.00021841239929199219, -1.5e-07, 3]}',
    b'{"id": 12345678901234567890123, "vector": [1, 2]}',  # beyond 64 bits: stays an int
    b'{"id": 18446744073709551615, "vector": [1, 2]}',  # the largest unsigned 64-bit integer
    b'{"id": "a", "vector": [1, 2], "metadata": {"n": -9223372036854775809, "m": [1e19]}}',
    b'{"id": "a", "vector": [1, 1e400]}',  # orjson refuses infinity; the API reads it and refuses later
    b'{"id": "a", "data": "\\ud800"}',  # a lone surrogate: orjson refuses it, the API's parser does not
    b'{"id": "a", "vector": [1, NaN]}',
    b'{"id": "a", "a": 1, "a": 2}',
    b'\xef\xbb\xbf{"id": "a"}',
    b'{"id": "\xff"}',
    b"[1, 2]",
]


def api_parse(raw: bytes) -> tuple[Any, bool]:
    try:
        return drf_json.loads(raw.decode(), parse_constant=drf_json.strict_constant), True
    except ValueError:
        return None, False


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 would hide a difference)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("raw", LINES)
def test_a_line_reads_as_the_api_reads_it(raw):
    expected, parses = api_parse(raw)
    value, error = parse_json(raw, record=True)
    if parses:
        assert error is None
        assert same(value, expected)
    else:
        assert value is None
        assert error is not None and error.startswith("malformed JSON")


def test_a_metadata_line_keeps_a_long_integer_under_any_key():
    value, error = parse_json(b'{"vector": 123456789012345678901234567890}')
    assert error is None
    assert value == {"vector": 123456789012345678901234567890}


def test_a_vector_with_a_long_integer_validates_as_the_api_validates_it():
    raw = b'{"id": "a", "vector": [100000000000000000000000, 2]}'
    value, error = parse_json(raw, record=True)
    expected, _ = api_parse(raw)
    assert error is None
    field = DenseVectorField()
    assert field.to_internal_value(value["vector"]) == field.to_internal_value(expected["vector"]) == [1e23, 2.0]
