"""Typed, immutable syntax tree of a metadata filter.

A path is a tuple of segments: ``str`` for an object key, ``int`` for an array index
(negative counts from the end, ``tags[#-1]`` is ``("tags", -1)``).

Literal numbers are ``int`` when written without a fraction or exponent and
``Decimal`` otherwise, so that they keep exactly what the client wrote; ``float`` is
accepted too when a tree is built by hand (it is taken as its shortest ``repr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

Segment: TypeAlias = str | int
Path: TypeAlias = tuple[Segment, ...]
Value: TypeAlias = str | bool | int | float | Decimal
CmpOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]

CMP_OPS: tuple[CmpOp, ...] = ("=", "!=", "<", "<=", ">", ">=")


def _check_path(path: Path) -> None:
    if not isinstance(path, tuple) or not path:
        raise ValueError("path must be a non-empty tuple")
    if not isinstance(path[0], str):
        raise ValueError("path must start with a key")


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.children) < 2:
            raise ValueError("And needs at least two children")


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.children) < 2:
            raise ValueError("Or needs at least two children")


@dataclass(frozen=True, slots=True)
class Comparison:
    path: Path
    op: CmpOp
    value: Value

    def __post_init__(self) -> None:
        _check_path(self.path)
        if self.op not in CMP_OPS:
            raise ValueError(f"unknown comparison operator {self.op!r}")


@dataclass(frozen=True, slots=True)
class Glob:
    path: Path
    pattern: str
    negated: bool = False

    def __post_init__(self) -> None:
        _check_path(self.path)


@dataclass(frozen=True, slots=True)
class In:
    path: Path
    values: tuple[Value, ...]
    negated: bool = False

    def __post_init__(self) -> None:
        _check_path(self.path)
        if not self.values:
            raise ValueError("In needs at least one value")


@dataclass(frozen=True, slots=True)
class Contains:
    path: Path
    value: Value
    negated: bool = False

    def __post_init__(self) -> None:
        _check_path(self.path)


@dataclass(frozen=True, slots=True)
class HasField:
    path: Path
    negated: bool = False

    def __post_init__(self) -> None:
        _check_path(self.path)


Predicate: TypeAlias = Comparison | Glob | In | Contains | HasField
Node: TypeAlias = And | Or | Predicate
