"""Filter tree -> a Postgres boolean expression over a jsonb column.

Every client-supplied piece (keys, indices, literals, GLOB patterns) is a bound ``%s``
parameter; the only things spliced into the SQL are the caller's trusted column
expression and constants of this module. Each predicate yields TRUE or FALSE, never
NULL, also when the column is SQL NULL (a record without metadata), so the result can
be negated or combined freely.

Index use: with ``GinIndex(fields=["metadata"], opclasses=["jsonb_path_ops"])``, these
compile to ``metadata @> %s::jsonb`` (or ``@> ANY(%s::jsonb[])``) and can use it when
the path is made of keys only (no ``[i]``): ``=`` and ``IN`` on any literal, and
``CONTAINS``. Containment is exact for them: it compares numbers numerically and
never matches across JSON types. ``!=``, ``NOT ...``, ordering, ``GLOB``,
``HAS [NOT] FIELD`` and paths with an array index are row filters.
"""

from __future__ import annotations

import json

from .ast import And, Comparison, Contains, Glob, HasField, In, Node, Or, Path, Value
from .errors import FilterError
from .glob import compile_glob
from .limits import MAX_ARRAY_INDEX
from .values import (
    JSON_TYPES,
    check_literal,
    check_text,
    compatible_types,
    equal_candidates,
    literal_json,
    number_value,
)

_ORDERING = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}


def filter_to_sql(node: Node | None, column: str = "metadata") -> tuple[str, list[object]]:
    """``(sql, params)`` for a WHERE clause; ``column`` is trusted SQL, e.g. ``"v.metadata"``.

    ``None`` (no filter) compiles to ``TRUE``.
    """
    if node is None:
        return "TRUE", []
    compiler = _Compiler(f"({column})")
    return compiler.node(node), compiler.params


class _Compiler:
    # Placeholders must appear in the SQL in the order their values are appended to
    # ``params``; every method therefore builds its string strictly left to right
    # (f-string parts are evaluated in order).

    def __init__(self, column: str) -> None:
        self.column = column
        self.params: list[object] = []

    def param(self, value: object) -> str:
        self.params.append(value)
        return "%s"

    def node(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.node(child) for child in node.children) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.node(child) for child in node.children) + ")"
        _check_path(node.path)
        if isinstance(node, Comparison):
            check_literal(node.value)
            if node.op == "=":
                return self.equal(node.path, (node.value,))
            if node.op == "!=":
                return self.not_equal(node.path, (node.value,))
            return self.ordering(node.path, node.op, node.value)
        if isinstance(node, In):
            for literal in node.values:
                check_literal(literal)
            if node.negated:
                return self.not_equal(node.path, node.values)
            return self.equal(node.path, node.values)
        if isinstance(node, Glob):
            return self.glob(node)
        if isinstance(node, Contains):
            check_literal(node.value)
            return self.contains(node)
        if isinstance(node, HasField):
            return f"({self.value(node.path)} IS {'' if node.negated else 'NOT '}NULL)"
        raise TypeError(f"not a filter node: {node!r}")

    def value(self, path: Path) -> str:
        """The jsonb at ``path``, SQL NULL when it is missing."""
        if _keys_only(path):
            steps = "".join(f" -> {self.param(key)}::text" for key in path)
            return f"({self.column}{steps})"
        # `jsonb -> int` would treat a scalar as a one-element array ('"x"' -> 0 is "x")
        # and `#>` would read an index as an object key; a strict jsonpath does neither,
        # and `silent` turns its "not an array"/"out of range" errors into NULL.
        return f"jsonb_path_query_first({self.column}, {self.param(_jsonpath(path))}::jsonpath, '{{}}', true)"

    def contained(self, documents: list[str]) -> str:
        """The column contains one of ``documents``: the GIN-indexable form."""
        if len(documents) == 1:
            test = f"{self.column} @> {self.param(documents[0])}::jsonb"
        else:
            test = f"{self.column} @> ANY({self.param(documents)}::jsonb[])"
        # `x @> y` is NULL only when x is; the guard makes that FALSE and keeps `@>` a
        # top-level qual the planner can match to the index.
        return f"({self.column} IS NOT NULL AND {test})"

    def equal(self, path: Path, literals: tuple[Value, ...]) -> str:
        candidates = _candidates(literals)
        if _keys_only(path):
            return self.contained([_nest(path, candidate) for candidate in candidates])
        # `[v1, v2] @> [x]` is true iff x is a scalar equal to some v; an object, an
        # array, JSON null or a missing value (SQL NULL -> [null]) give false.
        array = "[" + ",".join(candidates) + "]"
        return f"({self.param(array)}::jsonb @> jsonb_build_array({self.value(path)}))"

    def not_equal(self, path: Path, literals: tuple[Value, ...]) -> str:
        # `x NOT IN (a, b)` is `x != a AND x != b`, and each `!=` needs a field of a
        # type that literal applies to.
        types = set(JSON_TYPES)
        for literal in literals:
            types &= compatible_types(literal)
        if not types:
            return "FALSE"
        type_list = ", ".join(f"'{name}'" for name in sorted(types))
        array = "[" + ",".join(_candidates(literals)) + "]"
        return (
            f"COALESCE(jsonb_typeof({self.value(path)}) IN ({type_list})"
            f" AND NOT ({self.param(array)}::jsonb @> jsonb_build_array({self.value(path)})), FALSE)"
        )

    def ordering(self, path: Path, op: str, literal: Value) -> str:
        if number_value(literal) is None:
            return "FALSE"
        # jsonb compares two numbers numerically.
        return (
            f"COALESCE(jsonb_typeof({self.value(path)}) = 'number'"
            f" AND {self.value(path)} {_ORDERING[op]} {self.param(literal_json(literal))}::jsonb, FALSE)"
        )

    def glob(self, node: Glob) -> str:
        check_text(node.pattern)
        regex = compile_glob(node.pattern).postgres_regex()
        operator = "!~" if node.negated else "~"
        return (
            f"COALESCE(jsonb_typeof({self.value(node.path)}) = 'string'"
            f" AND ({self.value(node.path)} #>> '{{}}') {operator} {self.param(regex)}::text, FALSE)"
        )

    def contains(self, node: Contains) -> str:
        elements = [f"[{candidate}]" for candidate in _candidates((node.value,))]
        if not node.negated and _keys_only(node.path):
            return self.contained([_nest(node.path, element) for element in elements])
        is_array = f"jsonb_typeof({self.value(node.path)}) = 'array'"
        tests = " OR ".join(f"{self.value(node.path)} @> {self.param(element)}::jsonb" for element in elements)
        return f"COALESCE({is_array} AND {'NOT ' if node.negated else ''}({tests}), FALSE)"


def _check_path(path: Path) -> None:
    # Parsed paths are already valid; this guards trees built by hand.
    for segment in path:
        if isinstance(segment, bool) or not isinstance(segment, str | int):
            raise FilterError(f"invalid path segment {segment!r}", None)
        if isinstance(segment, str):
            check_text(segment)
        elif abs(segment) > MAX_ARRAY_INDEX:
            raise FilterError("array index too large", None)


def _jsonpath(path: Path) -> str:
    """``strict $."a"[0][last - 1]`` for ``a[0][#-2]``; keys are quoted as JSON strings."""
    steps = []
    for segment in path:
        if isinstance(segment, str):
            steps.append("." + json.dumps(segment, ensure_ascii=False))
        elif segment >= 0:
            steps.append(f"[{segment}]")
        else:
            steps.append(f"[last - {-segment - 1}]")
    return "strict $" + "".join(steps)


def _keys_only(path: Path) -> bool:
    return all(isinstance(segment, str) for segment in path)


def _candidates(literals: tuple[Value, ...]) -> list[str]:
    """JSON texts of every value equal to one of ``literals`` (1 brings true along)."""
    seen: dict[str, None] = {}
    for literal in literals:
        for candidate in equal_candidates(literal):
            seen.setdefault(literal_json(candidate), None)
    return list(seen)


def _nest(path: Path, json_value: str) -> str:
    """``{"a": {"b": <json_value>}}`` for the path ``a.b``."""
    document = json_value
    for key in reversed(path):
        document = "{" + json.dumps(key, ensure_ascii=False) + ":" + document + "}"
    return document
