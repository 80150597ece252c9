"""Pure-Python evaluation of a filter; the reference the SQL compiler is tested against.

Semantics (docs/api.md#filter-semantics): a missing path or a type mismatch makes a
predicate false, negated forms included; only ``HAS NOT FIELD`` is true for a missing
path. ``None`` metadata (no metadata at all) has no fields. See ``values`` for how
numbers and the 1/0 boolean spelling compare.
"""

from __future__ import annotations

from .ast import And, Comparison, Contains, Glob, HasField, In, Node, Or, Path, Value
from .glob import compile_glob
from .values import compatible_types, json_type, number_value, values_equal

_MISSING = object()


def evaluate_filter(node: Node | None, metadata: dict[str, object] | None) -> bool:
    """Whether a record with ``metadata`` matches; ``None`` (no filter) matches all."""
    if node is None:
        return True
    return _evaluate(node, metadata)


def _evaluate(node: Node, metadata: object) -> bool:
    if isinstance(node, And):
        return all(_evaluate(child, metadata) for child in node.children)
    if isinstance(node, Or):
        return any(_evaluate(child, metadata) for child in node.children)
    value = _resolve(metadata, node.path)
    if isinstance(node, HasField):
        return (value is _MISSING) == node.negated
    if value is _MISSING:
        return False
    if isinstance(node, Comparison):
        return _compare(value, node.op, node.value)
    if isinstance(node, In):
        if node.negated:
            return all(_not_equal(value, literal) for literal in node.values)
        return any(values_equal(value, literal) for literal in node.values)
    if isinstance(node, Glob):
        if not isinstance(value, str):
            return False
        return compile_glob(node.pattern).matches(value) != node.negated
    if isinstance(node, Contains):
        if not isinstance(value, list):
            return False
        found = any(values_equal(item, node.value) for item in value)
        return found != node.negated
    raise TypeError(f"not a filter node: {node!r}")


def _resolve(metadata: object, path: Path) -> object:
    value = metadata
    for segment in path:
        if isinstance(segment, str):
            if not isinstance(value, dict) or segment not in value:
                return _MISSING
            value = value[segment]
        else:
            if not isinstance(value, list):
                return _MISSING
            index = segment if segment >= 0 else len(value) + segment
            if not 0 <= index < len(value):
                return _MISSING
            value = value[index]
    return value


def _not_equal(value: object, literal: Value) -> bool:
    return json_type(value) in compatible_types(literal) and not values_equal(value, literal)


def _compare(value: object, op: str, literal: Value) -> bool:
    if op == "=":
        return values_equal(value, literal)
    if op == "!=":
        return _not_equal(value, literal)
    left = number_value(value)
    right = number_value(literal)
    if left is None or right is None:
        return False
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right
