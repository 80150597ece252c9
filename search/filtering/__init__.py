"""The Upstash metadata filter language (docs/api.md#filters).

    compiled = CompiledFilter.compile("year >= 1960")  # parsed once, FilterError if bad
    node = parse_filter("year >= 1960 AND tags CONTAINS 'sf'")  # FilterError if bad
    sql, params = filter_to_sql(node, "v.metadata")  # WHERE clause over a jsonb column
    evaluate_filter(node, {"year": 1965, "tags": ["sf"]})  # the same, in Python

Choices the hosted service leaves open (docs/api.md#choices):

* String escapes are ``\\'``, ``\\"`` and ``\\\\`` only; other backslash sequences are
  errors. Numbers may have an exponent. Keywords are case-insensitive and are only
  keywords where the grammar expects one, so fields called ``in`` or ``and`` work.
* ``=``/``!=``/``IN``/``NOT IN``/``CONTAINS`` compare numbers numerically and exactly
  (``1 = 1.0``); the number literals 1 and 0 also match ``true``/``false`` fields. No
  coercion between strings, numbers and booleans otherwise; ``<`` and friends only
  compare numbers. ``x NOT IN (a, b)`` is exactly ``x != a AND x != b``, so a list
  mixing types is false for every value.
* A missing path or a type mismatch makes any predicate false, negated forms included;
  ``HAS FIELD`` is true for a present JSON ``null``, ``HAS NOT FIELD`` for a missing
  path or no metadata at all.
* GLOB follows SQLite (see ``glob``): ``[!a]`` is not a negation, an unterminated
  ``[`` is an error.
"""

from __future__ import annotations

from .ast import And, CmpOp, Comparison, Contains, Glob, HasField, In, Node, Or, Path, Predicate, Segment, Value
from .compiled import CompiledFilter
from .errors import FilterError
from .evaluate import evaluate_filter
from .format import format_filter
from .limits import (
    MAX_ARRAY_INDEX,
    MAX_FILTER_LENGTH,
    MAX_IN_VALUES,
    MAX_NESTING_DEPTH,
    MAX_NUMBER_EXPONENT,
    MAX_PATH_DEPTH,
)
from .parser import parse_filter
from .sql import filter_to_sql

__all__ = [
    "MAX_ARRAY_INDEX",
    "MAX_FILTER_LENGTH",
    "MAX_IN_VALUES",
    "MAX_NESTING_DEPTH",
    "MAX_NUMBER_EXPONENT",
    "MAX_PATH_DEPTH",
    "And",
    "CmpOp",
    "Comparison",
    "CompiledFilter",
    "Contains",
    "FilterError",
    "Glob",
    "HasField",
    "In",
    "Node",
    "Or",
    "Path",
    "Predicate",
    "Segment",
    "Value",
    "evaluate_filter",
    "filter_to_sql",
    "format_filter",
    "parse_filter",
]
