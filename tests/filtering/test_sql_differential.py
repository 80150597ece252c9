"""The SQL compiler against real Postgres: a table of cases, then the Python evaluator as an oracle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import psycopg
import pytest
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from search.filtering import (
    MAX_IN_VALUES,
    MAX_NESTING_DEPTH,
    MAX_PATH_DEPTH,
    FilterError,
    Node,
    evaluate_filter,
    filter_to_sql,
    format_filter,
    parse_filter,
)

from .samples import DUNE
from .strategies import CHARS, any_filters, documents, filter_templates, realize

pytestmark = pytest.mark.django_db

DOCS: dict[int, dict[str, object] | None] = {
    1: DUNE,
    2: {
        "title": "Foundation",
        "year": 1951,
        "rating": 4.2,
        "in_print": False,
        "tags": ["sf"],
        "author": {"name": "Asimov"},
    },
    3: {"title": "dune messiah", "year": 1969.0, "tags": [], "flag": 1, "n": None},
    4: None,
    5: {},
    6: {
        "flags": [True, False],
        "nums": [1, 2.5],
        "nested": {"arr": [{"k": "v"}, [1, 2]]},
        "s": "a\nb",
        "quote": 'it\'s "q" \\',
    },
    7: {"tags": "sf", "year": "1965", "in_print": "true", "0": 1, "a": {"0": "x"}},
    8: {"big": 12345678901234567890, "f": 0.1, "e": 1e16, "neg": -0.0, "u": "東京😀"},
}
ALL = set(DOCS)

CASES: list[tuple[str, set[int]]] = [
    ("", ALL),
    ("title = 'Dune'", {1}),
    ("title GLOB '[Dd]une*'", {1, 3}),
    ("title NOT GLOB 'D*'", {2, 3}),
    ("year = 1965", {1}),
    ("year = 1969", {3}),
    ("year != 1965", {2, 3}),
    ("year >= 1960", {1, 3}),
    ("year < 1960", {2}),
    ("year IN (1951, 1969)", {2, 3}),
    ("year NOT IN (1951, 1969)", {1}),
    ("year NOT IN (1951, 'x')", set()),
    ("year = '1965'", {7}),
    ("in_print = true", {1}),
    ("in_print = 1", {1}),
    ("in_print != 1", {2}),
    ("in_print = 0", {2}),
    ("flag = true", set()),
    ("flag = 1", {3}),
    ("tags CONTAINS 'sf'", {1, 2}),
    ("tags NOT CONTAINS 'classic'", {2, 3}),
    ("tags[0] = 'sf'", {1, 2}),
    ("tags[#-1] = 'classic'", {1}),
    ("tags[#-1] = 'sf'", {2}),
    ("tags[#-3] = 'sf'", set()),
    ("HAS FIELD tags", {1, 2, 3, 7}),
    ("HAS NOT FIELD tags", {4, 5, 6, 8}),
    ("HAS FIELD n", {3}),
    ("n = 1", set()),
    ("n != 1", set()),
    ("HAS FIELD author.born.country", {1}),
    ("author.born.country = 'US'", {1}),
    ("author.name NOT IN ('Asimov', 'Clarke')", {1}),
    ("a[0] = 'x'", set()),
    ("HAS FIELD a[0]", set()),
    ("flags CONTAINS 1", {6}),
    ("flags CONTAINS 0", {6}),
    ("flags CONTAINS 2", set()),
    ("nums CONTAINS 2.50", {6}),
    ("nums NOT CONTAINS 3", {6}),
    ("nums[1] > 2", {6}),
    ("nested.arr[0].k = 'v'", {6}),
    ("nested.arr[1][#-1] = 2", {6}),
    ("nested.arr CONTAINS 1", set()),
    ("nested.arr[1] CONTAINS 1", {6}),
    ("nested.arr[1] NOT CONTAINS 1", set()),
    ("s GLOB 'a?b'", {6}),
    ("s GLOB 'a*'", {6}),
    ("quote = 'it\\'s \"q\" \\\\'", {6}),
    ("quote GLOB '*\\\\'", {6}),
    ("big = 12345678901234567890", {8}),
    ("big > 12345678901234567889", {8}),
    ("f = 0.1", {8}),
    ("e = 1e16", {8}),
    ("e = 10000000000000000", {8}),
    ("neg = 0", {8}),
    ("u = '東京😀'", {8}),
    ("u GLOB '東?😀'", {8}),
    ("u GLOB '[東]*'", {8}),
    ("year > 1900 AND (rating > 4.8 OR in_print = true)", {1}),
    ("title = 'Dune' OR title = 'Foundation' AND year = 1", {1}),
    ("(title = 'Dune' OR title = 'Foundation') AND year < 1960", {2}),
    ("HAS NOT FIELD x OR x = 1", ALL),
    ("HAS NOT FIELD x AND HAS NOT FIELD tags", {4, 5, 6, 8}),
]


@pytest.fixture
def docs_table(pg_conn: BaseDatabaseWrapper) -> str:
    """A temporary table of DOCS (dropped with the test's transaction), GIN-indexed like the app's."""
    with pg_conn.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE filter_docs (id int PRIMARY KEY, metadata jsonb)")
        cursor.execute("CREATE INDEX filter_docs_metadata ON filter_docs USING gin (metadata jsonb_path_ops)")
        for id_, metadata in DOCS.items():
            cursor.execute(
                "INSERT INTO filter_docs VALUES (%s, %s::jsonb)",
                [id_, None if metadata is None else json.dumps(metadata)],
            )
    return "filter_docs"


@pytest.fixture(params=["client", "server"])
def cursor(request: pytest.FixtureRequest, pg_conn: BaseDatabaseWrapper, docs_table: str) -> Iterator[object]:
    """Django's cursor (client-side binding) and a psycopg cursor binding server-side."""
    if request.param == "client":
        with pg_conn.cursor() as django_cursor:
            yield django_cursor
    else:
        pg_conn.ensure_connection()
        with psycopg.Cursor(pg_conn.connection) as server_cursor:
            yield server_cursor


def matching(cursor: object, node: Node | None) -> set[int]:
    where, params = filter_to_sql(node, "d.metadata")
    cursor.execute(f"SELECT d.id, {where} FROM filter_docs AS d", params)  # type: ignore[attr-defined]  # a Django or a psycopg cursor
    rows = cursor.fetchall()  # type: ignore[attr-defined]  # a Django or a psycopg cursor
    assert all(isinstance(matched, bool) for _, matched in rows), "a predicate yielded NULL"
    return {id_ for id_, matched in rows if matched}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_it_selects_the_expected_records(cursor: object, text: str, expected: set[int]) -> None:
    node = parse_filter(text)
    assert matching(cursor, node) == expected
    assert {id_ for id_, doc in DOCS.items() if evaluate_filter(node, doc)} == expected


@pytest.mark.parametrize(
    "text",
    [
        "title = 'Dune'",
        "year IN (1951, 1969)",
        "in_print = 1",
        "tags CONTAINS 'sf'",
        "author.born.country = 'US'",
        "title = 'Dune' OR tags CONTAINS 'x'",
        "title = 'Dune' AND year != 3",
    ],
)
def test_it_uses_a_jsonb_path_ops_index(pg_conn: BaseDatabaseWrapper, docs_table: str, text: str) -> None:
    where, params = filter_to_sql(parse_filter(text), "d.metadata")
    with pg_conn.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT d.id FROM filter_docs AS d WHERE {where}", cast(list[Any], params))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on filter_docs_metadata" in plan, plan


@pytest.mark.parametrize(
    "filter_text",
    [
        " OR ".join(f"k{i % 10}[#-{i % 5 + 1}] != 'v{i}'" for i in range(400))[:9_990].rsplit(" OR ", 1)[0],
        "a IN (" + ", ".join(str(i) for i in range(MAX_IN_VALUES)) + ")",
        "a[0] NOT IN (" + ", ".join(f"'{i}'" for i in range(MAX_IN_VALUES)) + ")",
        "(" * MAX_NESTING_DEPTH + "a = 1 OR b GLOB '*[^x]?'" + ")" * MAX_NESTING_DEPTH,
        ".".join(["a"] * MAX_PATH_DEPTH) + " = 1",
        "a" + "[#-1]" * (MAX_PATH_DEPTH - 1) + " CONTAINS 1",
        "s GLOB '" + "*a?[b-z]" * 1_000 + "'",
        "n < 1e1000 AND n > -1e-1000",
    ],
    ids=["long", "in-keys", "not-in-indices", "nested", "deep-path", "deep-indices", "long-glob", "extreme-numbers"],
)
def test_it_runs_filters_at_the_limits(cursor: object, filter_text: str) -> None:
    node = parse_filter(filter_text)
    assert matching(cursor, node) == {id_ for id_, doc in DOCS.items() if evaluate_filter(node, doc)}


# -- the evaluator as an oracle ------------------------------------------------------

_ROWS = (
    "FROM (SELECT e.ord::int - 1 AS id, NULLIF(e.doc, 'null'::jsonb) AS metadata"
    " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(doc, ord)) AS t"
)


def sql_matches(cursor: object, nodes: list[Node], docs: list[dict[str, object] | None]) -> list[list[int]]:
    """For each filter, the indices of ``docs`` it selects; one round trip, no table."""
    columns: list[str] = []
    params: list[object] = []
    for node in nodes:
        where, where_params = filter_to_sql(node, "t.metadata")
        columns.append(where)
        params.extend(where_params)
    cursor.execute(  # type: ignore[attr-defined]  # a Django or a psycopg cursor
        f"SELECT t.id, {', '.join(columns)} {_ROWS} ORDER BY t.id", [*params, json.dumps(docs, ensure_ascii=False)]
    )
    rows = cursor.fetchall()  # type: ignore[attr-defined]  # a Django or a psycopg cursor
    assert all(isinstance(matched, bool) for row in rows for matched in row[1:]), "a predicate yielded NULL"
    return [[row[0] for row in rows if row[1 + i]] for i in range(len(nodes))]


HYPOTHESIS = settings(
    deadline=None,
    database=None,  # keep no example database in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(HYPOTHESIS, max_examples=600)
@given(docs=st.lists(documents, min_size=2, max_size=8), templates=st.lists(filter_templates, min_size=1, max_size=6))
def test_sql_agrees_with_the_evaluator(
    pg_conn: BaseDatabaseWrapper, docs: list[dict[str, object] | None], templates: list[tuple[object, ...]]
) -> None:
    nodes = [realize(template, docs) for template in templates]
    texts = [format_filter(node) for node in nodes]
    for node, text in zip(nodes, texts, strict=True):
        assert parse_filter(text) == node, text
    expected = [[i for i, doc in enumerate(docs) if evaluate_filter(node, doc)] for node in nodes]
    with transaction.atomic(), pg_conn.cursor() as cursor:
        actual = sql_matches(cursor, nodes, docs)
    for text, want, got in zip(texts, expected, actual, strict=True):
        assert got == want, text
        # --hypothesis-show-statistics tells how often filters select some but not all.
        event("selects " + ("none" if not got else "all" if len(got) == len(docs) else "some"))


# -- malformed input -----------------------------------------------------------------

_SNIPPETS = [
    "AND", "OR", "NOT", "and", "(", ")", "((", "'", '"', "\\", "\\'", ",", "=", "!=", "<", ">=",
    "IN", "GLOB", "CONTAINS", "HAS", "FIELD", "HAS FIELD", "true", "1", "-", ".", "[", "]", "[#-1]",
    "[0]", "#", "1e999", "1e-5", "9" * 30, "*", "?", "[^", " ", "\n", "\x00", "é", "😀", "\ud800",
]  # fmt: skip


@st.composite
def mutated_filters(draw: st.DrawFn) -> str:
    text = format_filter(draw(any_filters))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        start = draw(st.integers(min_value=0, max_value=len(text)))
        end = draw(st.integers(min_value=start, max_value=min(len(text), start + 4)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "truncate"]))
        if kind == "delete":
            text = text[:start] + text[end:]
        elif kind == "insert":
            text = text[:start] + draw(st.sampled_from(_SNIPPETS)) + text[start:]
        elif kind == "replace":
            text = text[:start] + draw(st.sampled_from(_SNIPPETS)) + text[end:]
        elif kind == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        else:
            text = text[:start]
    return text


filter_ish_text = st.lists(st.sampled_from(list(CHARS + "()=!<>.,#-[]0123456789 ") + _SNIPPETS), max_size=25).map(
    "".join
)
malformed = st.one_of(mutated_filters(), filter_ish_text, st.text(max_size=30))
_FUZZ_DOCS: list[dict[str, object] | None] = [*DOCS.values()]


@settings(HYPOTHESIS, max_examples=1_000)
@given(text=malformed)
def test_malformed_filters_fail_cleanly(pg_conn: BaseDatabaseWrapper, text: str) -> None:
    try:
        node = parse_filter(text)
    except FilterError as error:
        assert error.message.startswith("filter: ")
        assert error.position is None or 0 <= error.position <= len(text)
        return
    expected = [i for i, doc in enumerate(_FUZZ_DOCS) if evaluate_filter(node, doc)]
    if node is None:
        return
    with transaction.atomic(), pg_conn.cursor() as cursor:
        assert sql_matches(cursor, [node], _FUZZ_DOCS) == [expected], text
