from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings

from search.filtering import (
    MAX_FILTER_LENGTH,
    MAX_IN_VALUES,
    MAX_NESTING_DEPTH,
    MAX_PATH_DEPTH,
    And,
    Comparison,
    Contains,
    FilterError,
    Glob,
    HasField,
    In,
    Node,
    Or,
    format_filter,
    parse_filter,
)

from .strategies import any_filters


def eq(path: str, value: object) -> Comparison:
    return Comparison((path,), "=", value)  # type: ignore[arg-type]  # a client value, of any JSON type


PARSE_CASES: list[tuple[str, Node]] = [
    # comparisons
    ("title = 'Dune'", eq("title", "Dune")),
    ("year != 1970", Comparison(("year",), "!=", 1970)),
    ("rating < 4.5", Comparison(("rating",), "<", Decimal("4.5"))),
    ("rating <= -4", Comparison(("rating",), "<=", -4)),
    ("rating > 1e3", Comparison(("rating",), ">", Decimal("1E+3"))),
    ("rating >= 2.5E-4", Comparison(("rating",), ">=", Decimal("2.5E-4"))),
    ("a=-0", eq("a", 0)),
    ("a = 12345678901234567890123", eq("a", 12345678901234567890123)),
    ("in_print = true", eq("in_print", True)),
    ("in_print = FALSE", eq("in_print", False)),
    ("in_print = True", eq("in_print", True)),
    # other operators, NOT forms, case-insensitive keywords
    ("title GLOB 'D?n*'", Glob(("title",), "D?n*")),
    ("title not glob '[a-z]*'", Glob(("title",), "[a-z]*", negated=True)),
    ("year IN (1965, 1966)", In(("year",), (1965, 1966))),
    ("year in(1965)", In(("year",), (1965,))),
    ("author.name NOT IN (\"Asimov\", 'Clarke')", In(("author", "name"), ("Asimov", "Clarke"), negated=True)),
    ("x In ('a', 1, true, 2.0)", In(("x",), ("a", 1, True, Decimal("2.0")))),
    ("tags CONTAINS 'sf'", Contains(("tags",), "sf")),
    ("tags NoT CoNtAiNs 'horror'", Contains(("tags",), "horror", negated=True)),
    ("HAS FIELD author.born.country", HasField(("author", "born", "country"))),
    ("has not field author.died", HasField(("author", "died"), negated=True)),
    ("HAS\n\tNOT   FIELD x", HasField(("x",), negated=True)),
    # paths
    ("a.b.c = 1", Comparison(("a", "b", "c"), "=", 1)),
    ("tags[0] = 'sf'", Comparison(("tags", 0), "=", "sf")),
    ("tags[#-1] = 'classic'", Comparison(("tags", -1), "=", "classic")),
    ("a[1][#-2].b[0].c = 1", Comparison(("a", 1, -2, "b", 0, "c"), "=", 1)),
    ("first-name = 'x'", eq("first-name", "x")),
    ("_private_1 = 'x'", eq("_private_1", "x")),
    # keywords are field names where no keyword can stand
    ("in = 1", eq("in", 1)),
    ("and = 1 and or = 2", And((eq("and", 1), eq("or", 2)))),
    ("has = 1", eq("has", 1)),
    ("has_field = 1", eq("has_field", 1)),
    ("not IN (1)", In(("not",), (1,))),
    ("HAS FIELD field", HasField(("field",))),
    ("true = true", eq("true", True)),
    ("andrew = 1 or origin = 2", Or((eq("andrew", 1), eq("origin", 2)))),
    # strings, escapes, unicode
    ('a = "double"', eq("a", "double")),
    ("a = 'it\\'s'", eq("a", "it's")),
    ('a = "say \\"hi\\""', eq("a", 'say "hi"')),
    ("a = 'back\\\\slash'", eq("a", "back\\slash")),
    ("a = 'mixed \"quotes\"'", eq("a", 'mixed "quotes"')),
    ("a = ''", eq("a", "")),
    ("a = 'Dün 😀 东京'", eq("a", "Dün 😀 东京")),
    ("a = 'line\nbreak'", eq("a", "line\nbreak")),
    ("a = 'and OR not'", eq("a", "and OR not")),
    # precedence and grouping
    (
        "a = 1 AND b = 2 OR c = 3",
        Or((And((eq("a", 1), eq("b", 2))), eq("c", 3))),
    ),
    (
        "a = 1 OR b = 2 AND c = 3",
        Or((eq("a", 1), And((eq("b", 2), eq("c", 3))))),
    ),
    (
        "a = 1 AND (b = 2 OR c = 3)",
        And((eq("a", 1), Or((eq("b", 2), eq("c", 3))))),
    ),
    ("a = 1 and b = 2 and c = 3", And((eq("a", 1), eq("b", 2), eq("c", 3)))),
    ("((a = 1))", eq("a", 1)),
    (
        "year > 1900 AND (rating > 4.8 OR in_print = true)",
        And(
            (
                Comparison(("year",), ">", 1900),
                Or((Comparison(("rating",), ">", Decimal("4.8")), eq("in_print", True))),
            )
        ),
    ),
    ("  a=1  ", eq("a", 1)),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[text for text, _ in PARSE_CASES])
def test_it_parses(text: str, expected: Node) -> None:
    node = parse_filter(text)
    assert node == expected
    # and the canonical text parses back to the same tree
    assert parse_filter(format_filter(node)) == expected


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_it_returns_none_for_an_empty_filter(text: str) -> None:
    assert parse_filter(text) is None


ERROR_CASES: list[tuple[str, int, str]] = [
    ("a = 1 AND", 9, "unexpected end of filter"),
    ("a = 1 AND AND b = 2", 10, "unexpected token 'AND'"),
    ("NOT a = 1", 0, "unexpected token 'NOT'"),
    ("a = 1 OR OR b = 2", 9, "unexpected token 'OR'"),
    ("a == 1", 3, "unexpected token '='"),
    ("a = 1 b = 2", 6, "unexpected token 'b'"),
    ("a = 1)", 5, "unexpected token ')'"),
    ("(a = 1", 6, "unexpected end of filter"),
    ("a = (1)", 4, "unexpected token '('"),
    ("a IN ()", 6, "unexpected token ')'"),
    ("a IN (1,)", 8, "unexpected token ')'"),
    ("a IN 1", 5, "unexpected token '1'"),
    ("a GLOB 5", 7, "expected a string"),
    ("a", 1, "unexpected end of filter"),
    ("= 1", 0, "unexpected token '='"),
    ("HAS FIELD", 9, "expected a field name"),
    ("HAS a", 0, "unexpected token 'HAS'"),
    ("a = trueish", 4, "unexpected token 'trueish'"),
    ("a = 'unterminated", 4, "unterminated string"),
    ('a = "also', 4, "unterminated string"),
    ("a = 'bad \\n escape'", 9, "unsupported escape '\\n'"),
    ("a = @", 4, "unexpected character '@'"),
    ("a ~ 1", 2, "unexpected character '~'"),
    ("a.b. = 1", 4, "expected a field name"),
    ("a..b = 1", 2, "expected a field name"),
    ("a[x] = 1", 1, "invalid array index"),
    ("a[-1] = 1", 1, "invalid array index"),
    ("a[#-0] = 1", 1, "invalid array index"),
    ("a[#1] = 1", 1, "invalid array index"),
    ("a[99999999999] = 1", 1, "array index too large"),
    ("a#1 = 1", 1, "unexpected character '#'"),
    ("1a = 1", 0, "unexpected token '1'"),
    ("a = 1e5000", 4, "number out of range"),
    ("title GLOB 'ab[cd'", 14, "unterminated '['"),
    ("title GLOB 'it\\'s [x'", 18, "unterminated '['"),
    ("a = 'nul\x00'", 8, "U+0000"),
]


@pytest.mark.parametrize(("text", "position", "gist"), ERROR_CASES, ids=[text for text, _, _ in ERROR_CASES])
def test_it_reports_errors_with_their_position(text: str, position: int, gist: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    error = info.value
    assert error.position == position
    assert gist in error.message
    assert f"at position {position}" in error.message
    assert error.message.startswith("filter: ")
    assert isinstance(error, ValueError)


def test_it_says_what_was_expected() -> None:
    with pytest.raises(FilterError, match=r"at position 9 \(expected a field name, HAS or '\('\)$"):
        parse_filter("a = 1 AND")
    with pytest.raises(FilterError, match=r"expected AND, OR or the end of the filter\)$"):
        parse_filter("a = 1 b = 2")


def test_it_limits_the_length() -> None:
    text = " OR ".join(["a = 1"] * 2000)
    assert len(text) > MAX_FILTER_LENGTH
    with pytest.raises(FilterError, match="longer than 10000 characters"):
        parse_filter(text)
    fits = "a = '" + "x" * (MAX_FILTER_LENGTH - 6) + "'"
    assert parse_filter(fits) == eq("a", "x" * (MAX_FILTER_LENGTH - 6))


def test_it_limits_the_nesting_depth() -> None:
    deepest = "(" * MAX_NESTING_DEPTH + "a = 1" + ")" * MAX_NESTING_DEPTH
    assert parse_filter(deepest) == eq("a", 1)
    too_deep = "(" * (MAX_NESTING_DEPTH + 1) + "a = 1" + ")" * (MAX_NESTING_DEPTH + 1)
    with pytest.raises(FilterError) as info:
        parse_filter(too_deep)
    assert info.value.position == MAX_NESTING_DEPTH
    assert "nested deeper than 32" in info.value.message


def test_it_does_not_count_in_list_parentheses_as_nesting() -> None:
    text = "(" * MAX_NESTING_DEPTH + "a IN (1, 2)" + ")" * MAX_NESTING_DEPTH
    assert parse_filter(text) == In(("a",), (1, 2))


def test_it_limits_the_in_list() -> None:
    fits = "a IN (" + ", ".join(["1"] * MAX_IN_VALUES) + ")"
    node = parse_filter(fits)
    assert isinstance(node, In)
    assert len(node.values) == MAX_IN_VALUES
    with pytest.raises(FilterError, match="more than 1000 values in IN list") as info:
        parse_filter("a IN (" + ", ".join(["1"] * (MAX_IN_VALUES + 1)) + ")")
    assert info.value.position == len("a IN (") + 3 * MAX_IN_VALUES


def test_it_limits_the_path_depth() -> None:
    fits = ".".join(["a"] * MAX_PATH_DEPTH) + " = 1"
    assert parse_filter(fits) == Comparison(("a",) * MAX_PATH_DEPTH, "=", 1)
    with pytest.raises(FilterError, match="deeper than 32 segments at position 9"):
        parse_filter("x = 1 OR " + "a" + "[0]" * MAX_PATH_DEPTH + " = 1")


def test_it_refuses_what_is_not_a_string() -> None:
    with pytest.raises(TypeError):
        parse_filter(None)  # type: ignore[arg-type]  # deliberately not a string


def test_it_formats_a_canonical_text() -> None:
    node = parse_filter("a=1 and (b='x' or not in (true,1.50)) or has not field t[#-1]")
    assert format_filter(node) == "a = 1 AND (b = 'x' OR not IN (true, 1.50)) OR HAS NOT FIELD t[#-1]"
    node = parse_filter("x = 'it\\'s \\\\ \"q\"' AND (a = 1 AND b = 2) OR (c = 3 OR d = 4)")
    assert format_filter(node) == "x = 'it\\'s \\\\ \"q\"' AND (a = 1 AND b = 2) OR (c = 3 OR d = 4)"
    assert format_filter(None) == ""


@settings(max_examples=300, deadline=None, database=None)
@given(any_filters)
def test_it_parses_what_it_formats(node: Node) -> None:
    assert parse_filter(format_filter(node)) == node
