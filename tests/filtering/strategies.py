"""Hypothesis strategies: metadata documents and well-formed filter trees over them.

Keys, strings and numbers come from small pools so that filters hit the documents
often. A filter is drawn as a *template* (plain tuples) whose paths and literals may
point into the documents; ``realize(template, docs)`` turns it into a tree. The
template strategy is built once: building a strategy per example (say, one that
samples from the documents) makes Hypothesis several times slower.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from search.filtering import And, Comparison, Contains, FilterError, Glob, HasField, In, Node, Or, Path, Value
from search.filtering.glob import compile_glob

# Keyword-like keys check that the contextual lexer reads them as field names.
KEYS = ["a", "b", "tags", "first-name", "_x", "in", "has", "NOT"]
CHARS = "ab'\"\\*?[]^-! é😀\n"

keys = st.sampled_from(KEYS)
short_text = st.text(alphabet=CHARS, max_size=3)
small_ints = st.integers(min_value=-3, max_value=3)
big_ints = st.integers(min_value=-(2**70), max_value=2**70)
float_pool = st.sampled_from(
    [0.0, -0.0, 1.0, 0.5, -2.5, 1e16, 0.1, 0.30000000000000004, 5e-324, 1.7976931348623157e308]
)
floats = st.floats(allow_nan=False, allow_infinity=False)


def _weighted(*choices: tuple[int, st.SearchStrategy[object]]) -> st.SearchStrategy[object]:
    """One of the strategies, picked with the given integer weights."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(min_value=0, max_value=len(table) - 1).flatmap(table.__getitem__)


scalars = st.one_of(st.none(), st.booleans(), small_ints, float_pool, floats, big_ints, short_text)


def _containers(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3)


json_values = st.recursive(scalars, _containers, max_leaves=5)
# Mostly objects; one in ten is no metadata at all (SQL NULL), one in ten is {}.
documents: st.SearchStrategy[dict[str, object] | None] = st.tuples(
    st.integers(min_value=0, max_value=9), st.dictionaries(keys, json_values, min_size=1, max_size=5)
).map(lambda pair: None if pair[0] == 0 else {} if pair[0] == 1 else pair[1])


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


number_literals: st.SearchStrategy[Value] = st.one_of(
    small_ints,
    big_ints,
    (float_pool | floats).map(_decimal),
    st.sampled_from(
        [Decimal("1.0"), Decimal("0.0"), Decimal("-0"), Decimal("1E+16"), Decimal("2.50"), Decimal("0E-5")]
    ),
)
literals: st.SearchStrategy[Value] = st.one_of(st.booleans(), short_text, number_literals)

random_paths: st.SearchStrategy[Path] = st.builds(
    lambda first, rest: (first, *rest),
    keys,
    st.lists(st.one_of(keys, st.integers(min_value=-3, max_value=2)), max_size=2),
)


def _valid_glob(pattern: str) -> bool:
    try:
        compile_glob(pattern)
    except FilterError:
        return False
    return True


_glob_atoms = st.one_of(
    st.sampled_from(["*", "?", "a", "b", "é", "'", "\\", "!", "-", "^", " "]),
    st.builds(
        lambda negated, body: "[" + ("^" if negated else "") + body + "]",
        st.booleans(),
        st.text(alphabet="ab]^-!*?é\\", min_size=1, max_size=4),
    ),
)
glob_patterns = st.lists(_glob_atoms, max_size=5).map("".join).filter(_valid_glob)

# Specs: ("doc", n) picks the n-th of what the documents hold, ("at", n) the n-th
# literal at the predicate's own path, ("scalar", n) a path that suits the predicate
# (a literal for comparisons, a string for GLOB, an array for CONTAINS).
_n = st.integers(min_value=0, max_value=1_000)
_path_specs = _weighted(
    (4, st.tuples(st.just("scalar"), _n)),
    (3, st.tuples(st.just("doc"), _n)),
    (3, random_paths),
)
_value_specs = _weighted(
    (5, st.tuples(st.just("at"), _n)),
    (2, st.tuples(st.just("doc"), _n)),
    (3, literals),
)
_pattern_specs = _weighted(
    (2, st.tuples(st.just("exact"), _n)),
    (2, st.tuples(st.just("prefix"), _n)),
    (3, glob_patterns),
)

_predicate_templates = st.one_of(
    st.tuples(st.just("cmp"), _path_specs, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), _value_specs),
    st.tuples(st.just("glob"), _path_specs, _pattern_specs, st.booleans()),
    st.tuples(st.just("in"), _path_specs, st.lists(_value_specs, min_size=1, max_size=4), st.booleans()),
    st.tuples(st.just("contains"), _path_specs, _value_specs, st.booleans()),
    st.tuples(st.just("has"), _path_specs, st.booleans()),
)
filter_templates: st.SearchStrategy[tuple[object, ...]] = st.recursive(
    _predicate_templates,
    lambda children: st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=3)),
    max_leaves=4,
)


def _walk(value: object, path: Path, out: list[tuple[Path, object]]) -> None:
    out.append((path, value))
    if isinstance(value, dict):
        for key, child in value.items():
            _walk(child, (*path, key), out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _walk(child, (*path, i), out)
            _walk(child, (*path, i - len(value)), out)


def paths_and_values(docs: list[dict[str, object] | None]) -> list[tuple[Path, object]]:
    """Every (path, value) in the documents, with both index spellings."""
    found: list[tuple[Path, object]] = []
    for doc in docs:
        if isinstance(doc, dict):
            for key, value in doc.items():
                _walk(value, (key,), found)
    return found


def _as_literal(value: object) -> Value | None:
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return _decimal(value)
    return None


def _glob_literal(text: str) -> str:
    return "".join(f"[{char}]" if char in "[*?" else char for char in text)


class _Pools:
    def __init__(self, docs: list[dict[str, object] | None]) -> None:
        self.found = paths_and_values(docs)
        self.paths = [path for path, _ in self.found]
        # Paths suited to a kind of predicate, for ("scalar", n) path specs.
        self.suited = {
            "cmp": [path for path, value in self.found if _as_literal(value) is not None],
            "glob": [path for path, value in self.found if isinstance(value, str)],
            "contains": [path for path, value in self.found if isinstance(value, list)],
        }
        self.literals = [lit for _, value in self.found if (lit := _as_literal(value)) is not None]
        self.strings = [value for _, value in self.found if isinstance(value, str)]

    def path(self, spec: object, predicate: str) -> Path:
        if isinstance(spec, tuple) and spec and spec[0] in ("scalar", "doc"):
            kind, n = spec
            suited = self.suited.get(predicate, self.suited["cmp"])
            paths = suited if kind == "scalar" and suited else self.paths
            return paths[n % len(paths)] if paths else ("a",)
        return spec  # type: ignore[return-value]  # hypothesis templates are untyped tuples

    def value(self, spec: object, path: Path, element: bool = False) -> Value:
        if isinstance(spec, tuple):
            kind, n = spec
            if kind == "at":
                found = [value for at, value in self.found if at == path]
                if element:  # CONTAINS: an element of an array found there
                    found = [item for value in found if isinstance(value, list) for item in value]
                candidates = [lit for value in found if (lit := _as_literal(value)) is not None]
                if candidates:
                    return candidates[n % len(candidates)]
            return self.literals[n % len(self.literals)] if self.literals else 1
        return spec  # type: ignore[return-value]  # hypothesis templates are untyped tuples

    def pattern(self, spec: object, path: Path) -> str:
        if not isinstance(spec, tuple):
            return spec  # type: ignore[return-value]  # hypothesis templates are untyped tuples
        kind, n = spec
        strings = [value for at, value in self.found if at == path and isinstance(value, str)] or self.strings
        if not strings:
            return "a*"
        text = strings[n % len(strings)]
        # A document's string, exact or as a prefix, so that GLOB matches sometimes.
        return _glob_literal(text) if kind == "exact" else _glob_literal(text[:1]) + "*"


def realize(template: tuple[object, ...], docs: list[dict[str, object] | None]) -> Node:
    """The filter a template describes, its placeholders resolved against ``docs``."""
    return _realize(template, _Pools(docs))


def _realize(template: tuple[object, ...], pools: _Pools) -> Node:
    kind = template[0]
    if kind in ("and", "or"):
        children = tuple(_realize(child, pools) for child in template[1])  # type: ignore[attr-defined]  # hypothesis templates are untyped tuples
        return And(children) if kind == "and" else Or(children)
    path = pools.path(template[1], kind)  # type: ignore[arg-type]  # hypothesis templates are untyped tuples
    if kind == "cmp":
        return Comparison(path, template[2], pools.value(template[3], path))  # type: ignore[arg-type]  # hypothesis templates are untyped tuples
    if kind == "glob":
        return Glob(path, pools.pattern(template[2], path), template[3])  # type: ignore[arg-type]  # hypothesis templates are untyped tuples
    if kind == "in":
        values = tuple(pools.value(spec, path) for spec in template[2])  # type: ignore[attr-defined]  # hypothesis templates are untyped tuples
        return In(path, values, template[3])  # type: ignore[arg-type]  # hypothesis templates are untyped tuples
    if kind == "contains":
        return Contains(path, pools.value(template[2], path, element=True), template[3])  # type: ignore[arg-type]  # hypothesis templates are untyped tuples
    return HasField(path, template[2])  # type: ignore[arg-type]  # hypothesis templates are untyped tuples


any_filters: st.SearchStrategy[Node] = filter_templates.map(lambda template: realize(template, []))
