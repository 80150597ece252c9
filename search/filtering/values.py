"""Value semantics shared by the SQL compiler and the Python evaluator.

Both sides must agree exactly, so the rules live here once:

* JSON types are the ones ``jsonb_typeof`` reports: string, number, boolean, object,
  array, null.
* Numbers compare numerically and exactly, as Postgres ``numeric`` does. A Python
  ``float`` is taken as its shortest ``repr`` (that is the JSON text ``json.dumps``
  writes, hence what Postgres stores), so ``0.1`` equals the literal ``0.1``.
* The number literals 0 and 1 also stand for ``false`` and ``true`` when the field is a
  boolean (the Upstash docs spell boolean literals as 1/0), for ``=``, ``!=``, ``IN``,
  ``NOT IN``, ``CONTAINS`` and ``NOT CONTAINS``; never for ``<`` and friends.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

from .ast import Value
from .errors import FilterError
from .limits import MAX_NUMBER_EXPONENT

JSON_TYPES = ("string", "number", "boolean", "object", "array", "null")


def number_value(value: object) -> Decimal | None:
    """The exact numeric value of a JSON number, or None if ``value`` is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


def json_type(value: object) -> str | None:
    """``jsonb_typeof`` of a decoded JSON value; None for what JSON cannot hold."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if number_value(value) is not None:
        return "number"
    return None


def boolean_alias(literal: Value) -> bool | None:
    """``True``/``False`` for the number literals 1 and 0, else None."""
    number = number_value(literal)
    if number is None:
        return None
    if number == 1:
        return True
    if number == 0:
        return False
    return None


def compatible_types(literal: Value) -> frozenset[str]:
    """The JSON types a field may have for ``=``/``!=`` with ``literal`` to apply."""
    if isinstance(literal, bool):
        return frozenset({"boolean"})
    if isinstance(literal, str):
        return frozenset({"string"})
    if boolean_alias(literal) is not None:
        return frozenset({"number", "boolean"})
    return frozenset({"number"})


def equal_candidates(literal: Value) -> tuple[Value, ...]:
    """The JSON values a field equal to ``literal`` may have (1 -> 1 and true)."""
    alias = boolean_alias(literal)
    if alias is None:
        return (literal,)
    return (literal, alias)


def values_equal(value: object, literal: Value) -> bool:
    """``value = literal`` under the rules above (false on a type mismatch)."""
    if isinstance(literal, bool) or isinstance(literal, str):
        return type(value) is type(literal) and value == literal
    if isinstance(value, bool):
        return boolean_alias(literal) is value
    number = number_value(value)
    return number is not None and number == number_value(literal)


def check_literal(literal: Value, position: int | None = None) -> None:
    """Refuse literals Postgres would choke on (so they never reach the database)."""
    if isinstance(literal, bool):
        return
    if isinstance(literal, str):
        check_text(literal, position)
        return
    number = number_value(literal)
    if number is None:
        raise FilterError(f"{literal!r} is not a valid literal", position)
    if number and abs(number.adjusted()) > MAX_NUMBER_EXPONENT:
        where = "" if position is None else f" at position {position}"
        raise FilterError(f"number out of range{where}", position)


def check_text(text: str, position: int | None = None) -> None:
    """Refuse NUL characters and lone surrogates, which Postgres text cannot hold."""
    for offset, char in enumerate(text):
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            at = None if position is None else position + offset
            where = "" if at is None else f" at position {at}"
            raise FilterError(f"character U+{ord(char):04X} is not allowed{where}", at)


def literal_json(literal: Value) -> str:
    """The JSON text of a literal, numbers kept exact."""
    if isinstance(literal, bool):
        return "true" if literal else "false"
    if isinstance(literal, str):
        return json.dumps(literal, ensure_ascii=False)
    if isinstance(literal, float):
        return repr(literal)
    if isinstance(literal, int):
        return str(literal)
    if literal.is_zero():
        # "0E-99999" is a fine zero, but too many decimal places for numeric.
        return "0"
    # Decimal's str() is valid JSON for finite values ("1E+5", "0.001").
    return str(literal)
