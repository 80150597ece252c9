"""Filter text -> syntax tree, with readable errors and hard limits.

Parsing is LALR (lark) over the grammar in ``grammar.lark``. String escapes: only
``\\'``, ``\\"`` and ``\\\\``; any other backslash sequence is an error, so that giving
it a meaning later cannot change what an existing filter matches. Numbers may have an
exponent (``1e3``, ``2.5E-4``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path as FsPath
from typing import cast

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from .ast import CMP_OPS, And, CmpOp, Comparison, Contains, Glob, HasField, In, Node, Or, Path, Value
from .errors import FilterError
from .glob import GlobSyntaxError, compile_glob
from .limits import MAX_ARRAY_INDEX, MAX_FILTER_LENGTH, MAX_IN_VALUES, MAX_NESTING_DEPTH, MAX_PATH_DEPTH
from .values import check_literal, check_text

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"\[(?:([0-9]+)|#-([0-9]+))\]")
_INTEGER = re.compile(r"-?[0-9]+")

_DESCRIPTIONS = {
    "PATH": "a field name",
    "STRING": "a string",
    "NUMBER": "a number",
    "TRUE": "true",
    "FALSE": "false",
    "CMP_OP": "a comparison operator",
    "NOT": "NOT",
    "_GLOB": "GLOB",
    "_IN": "IN",
    "_CONTAINS": "CONTAINS",
    "HAS": "HAS",
    "_FIELD": "FIELD",
    "_AND": "AND",
    "_OR": "OR",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_COMMA": "','",
    "$END": "the end of the filter",
}
_ORDER = {name: i for i, name in enumerate(_DESCRIPTIONS)}


@cache
def _lark() -> Lark:
    return Lark.open(
        str(FsPath(__file__).with_name("grammar.lark")),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=False,
    )


def parse_filter(text: str) -> Node | None:
    """Parse a filter; ``None`` for an empty or blank one (which matches everything)."""
    if not isinstance(text, str):
        raise TypeError("filter must be a string")
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"longer than {MAX_FILTER_LENGTH} characters", None)
    if not text.strip():
        return None
    check_text(text, 0)
    tree = _parse_tree(text)
    try:
        node: Node = _Builder().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, FilterError):
            raise exc.orig_exc from None
        raise
    return node


def _parse_tree(text: str) -> Tree[Token]:
    interactive = _lark().parse_interactive(text)
    depth = 0
    in_list = False
    previous = ""
    # The last three tokens, to blame a misplaced keyword (see _token_error).
    history: list[Token] = []
    try:
        for token in interactive.iter_parse():
            history = [*history[-2:], token]
            if token.type == "_LPAR":
                if previous == "_IN":
                    in_list = True
                else:
                    depth += 1
                    if depth > MAX_NESTING_DEPTH:
                        raise FilterError(
                            f"parentheses nested deeper than {MAX_NESTING_DEPTH} levels at position {token.start_pos}",
                            token.start_pos,
                        )
            elif token.type == "_RPAR":
                if in_list:
                    in_list = False
                else:
                    depth -= 1
            previous = token.type
        tree: Tree[Token] = interactive.feed_token(Token("$END", "", start_pos=len(text)))
        return tree
    except UnexpectedToken as exc:
        try:
            # Unlike exc.expected, accepts() leaves out what LALR's merged states would
            # only reject after a reduction.
            expected = set(interactive.accepts())  # type: ignore[no-untyped-call]  # lark leaves accepts() unannotated
        except UnexpectedInput:  # pragma: no cover - defensive
            expected = set(exc.expected)
        raise _token_error(text, exc.token, expected, history) from None
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None


_KEYWORDS = frozenset({"and", "or", "not", "glob", "in", "contains", "has", "field"})


def _token_error(text: str, token: Token, expected: set[str], history: list[Token]) -> FilterError:
    # Where a predicate starts, a lone keyword lexes as a field name (so a field may be
    # called "in"); when the parse then fails right after it, as in `a = 1 AND AND b = 2`
    # or `NOT a = 1`, the keyword is what the client got wrong.
    # The failing token was either fed (and is last in history) or never came out of
    # the lexer.
    before = history[:-1] if history and history[-1] is token else history
    if (
        before
        and before[-1].type == "PATH"
        and before[-1].lower() in _KEYWORDS
        and (len(before) < 2 or before[-2].type != "_FIELD")
    ):
        token = before[-1]
        expected = {"PATH", "HAS", "_LPAR"}
    position = token.start_pos if token.start_pos is not None else len(text)
    if token.type == "$END":
        what = "unexpected end of filter"
    else:
        what = f"unexpected token {_shorten(str(token))!r}"
    names = sorted((name for name in expected if name in _DESCRIPTIONS), key=_ORDER.__getitem__)
    hint = ""
    if names:
        words = [_DESCRIPTIONS[name] for name in names]
        listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
        hint = f" (expected {listed})"
    return FilterError(f"{what} at position {position}{hint}", position)


def _syntax_error(text: str, exc: UnexpectedInput) -> FilterError:
    if isinstance(exc, UnexpectedToken):  # pragma: no cover - handled by _parse_tree
        return _token_error(text, exc.token, set(exc.expected), [])
    if isinstance(exc, UnexpectedCharacters):
        # lark declares pos_in_stream = None on the base class; the lexer always sets it here.
        at = cast(int, exc.pos_in_stream)
        char = text[at] if at < len(text) else ""
        if char and char in "'\"":
            return FilterError(f"unterminated string starting at position {at}", at)
        return FilterError(f"unexpected character {char!r} at position {at}", at)
    position = getattr(exc, "pos_in_stream", None)
    return FilterError(f"syntax error at position {position}", position)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_path(token: Token) -> Path:
    """Split a PATH token into segments, pointing at the first bad character if any."""
    text = str(token)
    start = token.start_pos or 0
    segments: list[str | int] = []
    i = 0
    while True:
        match = _NAME.match(text, i)
        if match is None:
            raise FilterError(f"expected a field name at position {start + i}", start + i)
        segments.append(match.group())
        i = match.end()
        while i < len(text) and text[i] == "[":
            index = _INDEX.match(text, i)
            if index is None:
                raise FilterError(
                    f"invalid array index at position {start + i} (use [N] or [#-N])",
                    start + i,
                )
            digits = (index.group(1) or index.group(2)).lstrip("0") or "0"
            number = int(digits) if len(digits) <= 12 else MAX_ARRAY_INDEX + 1
            if number > MAX_ARRAY_INDEX:
                raise FilterError(f"array index too large at position {start + i}", start + i)
            if index.group(2) is not None:
                if number == 0:
                    raise FilterError(
                        f"invalid array index at position {start + i} (#-1 is the last element)",
                        start + i,
                    )
                number = -number
            segments.append(number)
            i = index.end()
        if i == len(text):
            break
        if text[i] != ".":
            raise FilterError(
                f"unexpected character {text[i]!r} in field name at position {start + i}",
                start + i,
            )
        i += 1
    if len(segments) > MAX_PATH_DEPTH:
        raise FilterError(
            f"field path deeper than {MAX_PATH_DEPTH} segments at position {start}",
            start,
        )
    return tuple(segments)


def _decode_string(token: Token) -> tuple[str, list[int]]:
    """Undo quoting; also return each character's position in the filter text."""
    raw = str(token)
    start = (token.start_pos or 0) + 1
    chars: list[str] = []
    positions: list[int] = []
    i = 1
    end = len(raw) - 1
    while i < end:
        char = raw[i]
        if char == "\\":
            escaped = raw[i + 1]
            if escaped not in "'\"\\":
                position = start + i - 1
                sequence = "\\" + escaped
                raise FilterError(
                    f"unsupported escape '{sequence}' at position {position} (only \\', \\\" and \\\\ are allowed)",
                    position,
                )
            chars.append(escaped)
            positions.append(start + i - 1)
            i += 2
        else:
            chars.append(char)
            positions.append(start + i - 1)
            i += 1
    return "".join(chars), positions


def _literal(token: Token) -> Value:
    kind = token.type
    if kind == "STRING":
        return _decode_string(token)[0]
    if kind == "TRUE":
        return True
    if kind == "FALSE":
        return False
    text = str(token)
    try:
        number = Decimal(text)
    except InvalidOperation:  # an exponent beyond even Decimal's range
        raise FilterError(f"number out of range at position {token.start_pos}", token.start_pos) from None
    check_literal(number, token.start_pos)
    if _INTEGER.fullmatch(text):
        return int(number)
    return number


def _split_not(children: list[Token]) -> tuple[Token, bool, list[Token]]:
    path = children[0]
    if len(children) > 1 and children[1].type == "NOT":
        return path, True, children[2:]
    return path, False, children[1:]


class _Builder(Transformer[Token, Node]):
    def or_expr(self, children: list[Node]) -> Node:
        return Or(tuple(children))

    def and_expr(self, children: list[Node]) -> Node:
        return And(tuple(children))

    def comparison(self, children: list[Token]) -> Node:
        path, op, literal = children
        return Comparison(_parse_path(path), _cmp_op(op), _literal(literal))

    def glob(self, children: list[Token]) -> Node:
        path, negated, rest = _split_not(children)
        pattern, positions = _decode_string(rest[0])
        try:
            compile_glob(pattern)
        except GlobSyntaxError as exc:
            position = positions[exc.offset]
            raise FilterError(f"{exc.detail} at position {position}", position) from None
        return Glob(_parse_path(path), pattern, negated)

    def in_list(self, children: list[Token]) -> Node:
        path, negated, literals = _split_not(children)
        if len(literals) > MAX_IN_VALUES:
            position = literals[MAX_IN_VALUES].start_pos
            raise FilterError(
                f"more than {MAX_IN_VALUES} values in IN list at position {position}",
                position,
            )
        return In(_parse_path(path), tuple(_literal(token) for token in literals), negated)

    def contains(self, children: list[Token]) -> Node:
        path, negated, rest = _split_not(children)
        return Contains(_parse_path(path), _literal(rest[0]), negated)

    def has_field(self, children: list[Token]) -> Node:
        # children: HAS [NOT] PATH
        negated = len(children) == 3
        return HasField(_parse_path(children[-1]), negated)


_CMP_OPS_BY_TEXT: dict[str, CmpOp] = {op: op for op in CMP_OPS}


def _cmp_op(token: Token) -> CmpOp:
    return _CMP_OPS_BY_TEXT[str(token)]  # the grammar's CMP_OP admits exactly these
