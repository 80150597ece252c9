"""GLOB patterns, with SQLite's rules (which the Upstash docs describe).

* ``*`` any run of characters (possibly empty), ``?`` exactly one character.
* ``[...]`` one character from the set; ``[^...]`` one character not in it. Only ``^``
  negates: ``[!a]`` is the set of ``!`` and ``a``, as in SQLite.
* In a set, ``]`` right after ``[`` or ``[^`` is a literal ``]``; ``-`` between two
  characters is a range by code point, elsewhere a literal ``-``; a reversed range
  (``[z-a]``) matches nothing, though its first character still counts on its own,
  as in SQLite.
* There is no escape character: write ``[*]``, ``[?]`` or ``[[]`` for the literals.
  (The filter string's own ``\\'``, ``\\"``, ``\\\\`` escapes are undone before.)
* A ``[`` without its ``]`` is an error (SQLite would silently match nothing).

Matching is case-sensitive and by code point, on the whole string.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias

from .errors import FilterError


@dataclass(frozen=True, slots=True)
class _Star:
    pass


@dataclass(frozen=True, slots=True)
class _AnyChar:
    pass


@dataclass(frozen=True, slots=True)
class _CharSet:
    negated: bool
    # Inclusive code point ranges; a single character is (c, c).
    ranges: tuple[tuple[str, str], ...]

    def matches(self, char: str) -> bool:
        found = any(low <= char <= high for low, high in self.ranges)
        return found != self.negated


_Token: TypeAlias = _Star | _AnyChar | _CharSet | str


class GlobSyntaxError(FilterError):
    """A malformed pattern; ``offset`` is the index in the pattern string."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, None)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class GlobPattern:
    tokens: tuple[_Token, ...]

    def matches(self, text: str) -> bool:
        """Whole-string match in O(len(text) * len(tokens)), no regex backtracking."""
        tokens = self.tokens
        t = p = 0
        star_p = -1  # token index after the last '*' seen
        star_t = 0  # text index that '*' is currently assumed to reach
        while t < len(text):
            if p < len(tokens) and not isinstance(tokens[p], _Star) and _one(tokens[p], text[t]):
                t += 1
                p += 1
            elif p < len(tokens) and isinstance(tokens[p], _Star):
                star_p = p + 1
                star_t = t
                p += 1
            elif star_p >= 0:
                star_t += 1
                t = star_t
                p = star_p
            else:
                return False
        return all(isinstance(token, _Star) for token in tokens[p:])

    def postgres_regex(self) -> str:
        """An anchored Postgres ARE equivalent to the pattern, safe to pass as a value."""
        parts = ["^"]
        for token in self.tokens:
            if isinstance(token, _Star):
                parts.append(".*")
            elif isinstance(token, _AnyChar):
                parts.append(".")
            elif isinstance(token, _CharSet):
                items = "".join(
                    _re_char(low) if low == high else f"{_re_char(low)}-{_re_char(high)}" for low, high in token.ranges
                )
                parts.append(f"[{'^' if token.negated else ''}{items}]")
            else:
                parts.append(_re_char(token))
        parts.append("$")
        return "".join(parts)


def _one(token: _Token, char: str) -> bool:
    if isinstance(token, str):
        return token == char
    if isinstance(token, _AnyChar):
        return True
    assert isinstance(token, _CharSet)
    return token.matches(char)


def _re_char(char: str) -> str:
    # ASCII letters and digits stand for themselves; everything else goes in as a
    # character-entry escape, so no character can have a special meaning in the regex.
    if char.isascii() and char.isalnum():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> GlobPattern:
    """Parse ``pattern``; raises GlobSyntaxError for an unterminated ``[``."""
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if not (tokens and isinstance(tokens[-1], _Star)):
                tokens.append(_Star())
            i += 1
        elif char == "?":
            tokens.append(_AnyChar())
            i += 1
        elif char == "[":
            start = i
            i += 1
            negated = i < n and pattern[i] == "^"
            if negated:
                i += 1
            ranges: list[tuple[str, str]] = []
            prior: str | None = None
            if i < n and pattern[i] == "]":
                ranges.append(("]", "]"))
                i += 1
            while i < n and pattern[i] != "]":
                char = pattern[i]
                if char == "-" and prior is not None and i + 1 < n and pattern[i + 1] != "]":
                    high = pattern[i + 1]
                    if prior <= high:
                        ranges[-1] = (prior, high)
                    prior = None
                    i += 2
                else:
                    ranges.append((char, char))
                    prior = char
                    i += 1
            if i >= n:
                raise GlobSyntaxError("unterminated '[' in GLOB pattern", start)
            i += 1
            tokens.append(_CharSet(negated, tuple(ranges)))
        else:
            tokens.append(char)
            i += 1
    return GlobPattern(tuple(tokens))
