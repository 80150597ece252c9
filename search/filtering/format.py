"""Syntax tree -> filter text that parses back to the same tree."""

from __future__ import annotations

from decimal import Decimal

from .ast import And, Comparison, Contains, Glob, HasField, In, Node, Or, Path, Value


def format_filter(node: Node | None) -> str:
    """Canonical filter text for ``node``; ``""`` for no filter."""
    if node is None:
        return ""
    return _format(node)


def _format(node: Node) -> str:
    if isinstance(node, And):
        # AND binds tighter than OR; any other nesting needs parentheses to survive.
        return " AND ".join(
            f"({_format(child)})" if isinstance(child, And | Or) else _format(child) for child in node.children
        )
    if isinstance(node, Or):
        return " OR ".join(
            f"({_format(child)})" if isinstance(child, Or) else _format(child) for child in node.children
        )
    path = format_path(node.path)
    if isinstance(node, Comparison):
        return f"{path} {node.op} {format_value(node.value)}"
    not_ = "NOT " if node.negated else ""
    if isinstance(node, Glob):
        return f"{path} {not_}GLOB {format_value(node.pattern)}"
    if isinstance(node, In):
        return f"{path} {not_}IN ({', '.join(format_value(value) for value in node.values)})"
    if isinstance(node, Contains):
        return f"{path} {not_}CONTAINS {format_value(node.value)}"
    if isinstance(node, HasField):
        return f"HAS {not_}FIELD {path}"
    raise TypeError(f"not a filter node: {node!r}")


def format_path(path: Path) -> str:
    parts: list[str] = []
    for segment in path:
        if isinstance(segment, str):
            parts.append(("." if parts else "") + segment)
        else:
            parts.append(f"[{segment}]" if segment >= 0 else f"[#{segment}]")
    return "".join(parts)


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        # str() may give "1E+3" or "-0"; both are valid filter numbers.
        return str(value)
    return str(value)
