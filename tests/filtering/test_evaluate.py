from __future__ import annotations

from decimal import Decimal

import pytest

from search.filtering import And, Comparison, Contains, FilterError, Glob, In, Or, evaluate_filter, parse_filter
from search.filtering.glob import compile_glob

from .samples import DUNE

# Every example of the operator table in 5.2 matches the record.
SPEC_EXAMPLES = [
    "title = 'Dune'",
    "in_print != false",
    "year != 1970",
    "rating >= 4.5 AND year < 2000",
    "title GLOB 'D?n*'",
    "title NOT GLOB '[a-z]*'",
    "year IN (1965, 1966)",
    "year = 1965 OR year = 1966",
    "author.name NOT IN (\"Asimov\", 'Clarke')",
    "author.name != \"Asimov\" AND author.name != 'Clarke'",
    "tags CONTAINS 'sf'",
    "tags NOT CONTAINS 'horror'",
    "HAS FIELD author.born.country",
    "HAS NOT FIELD author.died",
    "tags[0] = 'sf'",
    "tags[#-1] = 'classic'",
    "year > 1900 AND (rating > 4.8 OR in_print = true)",
    "",
]


@pytest.mark.parametrize("text", SPEC_EXAMPLES)
def test_it_matches_every_spec_example(text: str) -> None:
    assert evaluate_filter(parse_filter(text), DUNE) is True


# (filter, metadata, expected)
CASES: list[tuple[str, dict[str, object] | None, bool]] = [
    # near misses of the filter examples (docs/api.md#filter-examples)
    ("title = 'dune'", DUNE, False),
    ("in_print != true", DUNE, False),
    ("year != 1965", DUNE, False),
    ("rating >= 4.7", DUNE, False),
    ("title GLOB 'd?n*'", DUNE, False),
    ("title NOT GLOB 'D*'", DUNE, False),
    ("year IN (1966, 1967)", DUNE, False),
    ("author.name NOT IN ('Herbert')", DUNE, False),
    ("tags CONTAINS 'horror'", DUNE, False),
    ("tags NOT CONTAINS 'sf'", DUNE, False),
    ("HAS FIELD author.died", DUNE, False),
    ("HAS NOT FIELD author.born", DUNE, False),
    ("tags[1] = 'sf'", DUNE, False),
    ("tags[#-2] = 'sf'", DUNE, True),
    # precedence: (false AND true) OR true
    ("year = 1 AND title = 'Dune' OR rating > 4", DUNE, True),
    ("year = 1 AND (title = 'Dune' OR rating > 4)", DUNE, False),
    # missing fields: false for every form but HAS NOT FIELD
    ("nope = 1", DUNE, False),
    ("nope != 1", DUNE, False),
    ("nope < 1", DUNE, False),
    ("nope GLOB '*'", DUNE, False),
    ("nope NOT GLOB 'x'", DUNE, False),
    ("nope IN (1)", DUNE, False),
    ("nope NOT IN (1)", DUNE, False),
    ("nope CONTAINS 1", DUNE, False),
    ("nope NOT CONTAINS 1", DUNE, False),
    ("HAS FIELD nope", DUNE, False),
    ("HAS NOT FIELD nope", DUNE, True),
    ("author.name.first = 'x'", DUNE, False),
    ("HAS NOT FIELD author.name.first", DUNE, True),
    # no metadata at all
    ("a = 1", None, False),
    ("a != 1", None, False),
    ("a NOT IN (1)", None, False),
    ("a NOT CONTAINS 1", None, False),
    ("a NOT GLOB 'x'", None, False),
    ("HAS FIELD a", None, False),
    ("HAS NOT FIELD a", None, True),
    ("HAS NOT FIELD a OR a = 1", None, True),
    ("", None, True),
    # type mismatches: false, negated forms too
    ("year = '1965'", DUNE, False),
    ("year != 'x'", DUNE, False),
    ("title != 1", DUNE, False),
    ("title < 'E'", DUNE, False),
    ("in_print > 0", DUNE, False),
    ("year GLOB '19*'", DUNE, False),
    ("year NOT GLOB 'x'", DUNE, False),
    ("title CONTAINS 'D'", DUNE, False),
    ("title NOT CONTAINS 'x'", DUNE, False),
    ("author NOT CONTAINS 'x'", DUNE, False),
    ("author != 'x'", DUNE, False),
    ("tags != 'x'", DUNE, False),
    ("tags = 'sf'", DUNE, False),
    ("year NOT IN (1, 'x')", DUNE, False),  # = year != 1 AND year != 'x'
    ("year IN (1, 'x', 1965)", DUNE, True),
    ("n = 1", {"n": None}, False),
    ("n != 1", {"n": None}, False),
    ("HAS FIELD n", {"n": None}, True),
    # numbers compare numerically
    ("n = 1.0", {"n": 1}, True),
    ("n = 1", {"n": 1.0}, True),
    ("n = 1e2", {"n": 100}, True),
    ("n = 0.1", {"n": 0.1}, True),
    ("n != 0.1", {"n": 0.10000000000000002}, True),
    ("n < 0.30000000000000004", {"n": 0.3}, True),
    ("n = -0", {"n": 0.0}, True),
    ("n > 9007199254740992", {"n": 9007199254740993}, True),
    ("n >= 12345678901234567890", {"n": 12345678901234567890}, True),
    ("n = 1.5", {"n": Decimal("1.50")}, True),
    # 1/0 stand for true/false against booleans, not the other way round
    ("flag = 1", {"flag": True}, True),
    ("flag = 1.0", {"flag": True}, True),
    ("flag = 0", {"flag": False}, True),
    ("flag = 1", {"flag": False}, False),
    ("flag != 0", {"flag": True}, True),
    ("flag != 1", {"flag": True}, False),
    ("flag != 2", {"flag": True}, False),
    ("flag = 2", {"flag": True}, False),
    ("flag IN (0, 5)", {"flag": False}, True),
    ("flag NOT IN (0, 1)", {"flag": False}, False),
    ("flag NOT IN (1)", {"flag": False}, True),
    ("flag > 0", {"flag": True}, False),
    ("n = true", {"n": 1}, False),
    ("n != true", {"n": 1}, False),
    ("flags CONTAINS 1", {"flags": [False, True]}, True),
    ("flags CONTAINS 1", {"flags": [False]}, False),
    ("flags NOT CONTAINS 0", {"flags": [True]}, True),
    ("nums CONTAINS true", {"nums": [1]}, False),
    ("nums CONTAINS 2.0", {"nums": [1, 2]}, True),
    # arrays
    ("tags[2] = 'x'", DUNE, False),
    ("tags[#-3] = 'x'", DUNE, False),
    ("HAS FIELD tags[#-2]", DUNE, True),
    ("HAS NOT FIELD tags[#-3]", DUNE, True),
    ("a[0] = 1", {"a": {"0": 1}}, False),
    ("a.b[0].c = 'x'", {"a": {"b": [{"c": "x"}]}}, True),
    ("a.b.c = 'x'", {"a": {"b": [{"c": "x"}]}}, False),
    ("a[0][#-1] = 2", {"a": [[1, 2]]}, True),
    ("a CONTAINS 'x'", {"a": [["x"]]}, False),
    ("a CONTAINS 'x'", {"a": []}, False),
    ("a NOT CONTAINS 'x'", {"a": []}, True),
    ("a NOT CONTAINS 'x'", {"a": [1, None, {"x": 1}]}, True),
    # GLOB: wildcards, classes, no escape character, case, newlines, code points
    ("s GLOB 'a*'", {"s": "a"}, True),
    ("s GLOB '*'", {"s": ""}, True),
    ("s GLOB '?'", {"s": ""}, False),
    ("s GLOB '?'", {"s": "😀"}, True),
    ("s GLOB 'a?c'", {"s": "a\nc"}, True),
    ("s GLOB 'a*c'", {"s": "a\n\nc"}, True),
    ("s GLOB 'abc'", {"s": "abc\n"}, False),
    ("s GLOB 'A*'", {"s": "abc"}, False),
    ("s GLOB '[abc]x'", {"s": "bx"}, True),
    ("s GLOB '[a-c]x'", {"s": "dx"}, False),
    ("s GLOB '[^a-c]x'", {"s": "dx"}, True),
    ("s GLOB '[^a-c]x'", {"s": "bx"}, False),
    ("s GLOB '[!a]'", {"s": "!"}, True),  # '!' is not a negation
    ("s GLOB '[!a]'", {"s": "b"}, False),
    ("s GLOB '[]]'", {"s": "]"}, True),
    ("s GLOB '[^]]'", {"s": "]"}, False),
    ("s GLOB '[a-]'", {"s": "-"}, True),
    ("s GLOB '[-a]'", {"s": "-"}, True),
    ("s GLOB '[z-a]'", {"s": "z"}, True),  # reversed range: only its first character
    ("s GLOB '[z-a]'", {"s": "m"}, False),
    ("s GLOB '[*]'", {"s": "*"}, True),
    ("s GLOB '[*]'", {"s": "x"}, False),
    ("s GLOB '[[]x'", {"s": "[x"}, True),
    ("s GLOB 'a\\\\*'", {"s": "a\\bc"}, True),  # backslash is a plain character
    ("s GLOB 'a\\\\*'", {"s": "a*"}, False),
    ("s GLOB '.^$(|)+{1}'", {"s": ".^$(|)+{1}"}, True),  # regex characters are literal
    ("s GLOB '.*'", {"s": "abc"}, False),
    ("s GLOB 'é*'", {"s": "été"}, True),
    ("s GLOB '[à-ï]'", {"s": "é"}, True),
    ("s GLOB '*a*a*a*a*a*a*a*b'", {"s": "a" * 200}, False),
    ("s NOT GLOB '*x*'", {"s": "abc"}, True),
    ("s GLOB 'it\\'s'", {"s": "it's"}, True),
    # unicode strings
    ("city = '東京'", {"city": "東京"}, True),
    ("emoji = '😀'", {"emoji": "😀"}, True),
    ('a.b = "quote\'s"', {"a": {"b": "quote's"}}, True),
]


@pytest.mark.parametrize(
    ("text", "metadata", "expected"), CASES, ids=[f"{text} | {metadata!r:.40}" for text, metadata, _ in CASES]
)
def test_it_evaluates(text: str, metadata: dict[str, object] | None, expected: bool) -> None:
    assert evaluate_filter(parse_filter(text), metadata) is expected


def test_it_matches_everything_without_a_filter() -> None:
    assert evaluate_filter(None, None) is True
    assert evaluate_filter(None, {"a": 1}) is True


def test_it_evaluates_trees_built_by_hand() -> None:
    node = Or((And((Comparison(("a",), "=", 1.5), In(("b",), ("x",)))), Contains(("c",), 2, negated=True)))
    assert evaluate_filter(node, {"a": 1.5, "b": "x"}) is True
    assert evaluate_filter(node, {"c": [1]}) is True
    assert evaluate_filter(node, {"c": [2]}) is False


def test_it_treats_non_finite_floats_as_no_number() -> None:
    assert evaluate_filter(parse_filter("n < 1"), {"n": float("-inf")}) is False
    assert evaluate_filter(parse_filter("n != 1"), {"n": float("nan")}) is False


def test_it_refuses_an_unterminated_set_in_a_tree_built_by_hand() -> None:
    with pytest.raises(FilterError, match="unterminated"):
        evaluate_filter(Glob(("s",), "[ab"), {"s": "a"})


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        ("D?n*", "^D.n.*$"),
        ("[a-z]*", "^[a-z].*$"),
        ("[^]a-]", "^[^\\u005da\\u002d]$"),
        ("a.b", "^a\\u002eb$"),
        ("**", "^.*$"),
        ("😀", "^\\U0001f600$"),
    ],
)
def test_it_translates_globs_to_anchored_postgres_regexes(pattern: str, regex: str) -> None:
    assert compile_glob(pattern).postgres_regex() == regex
