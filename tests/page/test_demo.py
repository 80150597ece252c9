"""The demo corpus (the standard library's docstrings) and the commands that load it."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from search.models import DemoLoad, Index, Vector
from search.services import demo
from search.services.demo import SUMMARY_MAX_CHARS, demo_entries, stdlib_entries, summarize


def test_it_walks_the_standard_library_into_thousands_of_entries() -> None:
    entries = list(stdlib_entries())
    assert len(entries) > 3000
    assert len({entry.id for entry in entries}) == len(entries)
    assert {entry.metadata["kind"] for entry in entries} == {"module", "class", "function", "method"}
    by_id = {entry.id: entry for entry in entries}
    dumps = by_id["stdlib:json.dumps"]
    assert dumps.metadata == {"module": "json", "kind": "function", "name": "dumps", "qualname": "json.dumps"}
    assert dumps.data.startswith("json.dumps: Serialize obj to a JSON formatted str")
    assert by_id["stdlib:json.JSONEncoder.encode"].metadata["kind"] == "method"
    assert by_id["stdlib:collections.OrderedDict"].metadata["kind"] == "class"
    assert by_id["stdlib:json"].metadata["kind"] == "module"
    for entry in entries:
        assert not entry.metadata["name"].startswith("_")
        assert entry.data.startswith(f"{entry.metadata['qualname']}: ")
        assert len(entry.data) <= len(entry.metadata["qualname"]) + 2 + SUMMARY_MAX_CHARS
        assert entry.data.strip() != f"{entry.metadata['qualname']}:"


def test_it_keeps_the_same_corpus_on_every_walk() -> None:
    assert [entry.id for entry in demo_entries(limit=300)] == [entry.id for entry in list(stdlib_entries())[:300]]


def test_it_skips_modules_that_do_not_import() -> None:
    modules = {entry.metadata["module"] for entry in stdlib_entries(["no_such_module_here", "json"])}
    assert modules == {"json"}


def test_it_keeps_the_first_paragraphs_of_a_docstring() -> None:
    doc = """Short summary with :func:`json.dumps` and ``literal``.

        A second paragraph that
        wraps over lines.

        >>> example()
        """
    assert summarize(doc) == "Short summary with json.dumps and literal.\nA second paragraph that wraps over lines."
    assert summarize("   ") == ""
    assert summarize(None) == ""
    long = summarize("word " * 1000)
    assert len(long) <= SUMMARY_MAX_CHARS and long.endswith("…")


def test_it_loads_the_demo_idempotently(db: None, embed_once: None) -> None:
    out = StringIO()
    call_command("load_demo", "--limit", "12", "--batch-size", "5", stdout=out)
    index = Index.objects.get(name="demo")
    assert index.embedding_model == "ALL_MINILM_L6_V2" and index.dimension == 384
    keys = sorted(Vector.objects.filter(index=index).values_list("key", flat=True))
    assert keys == sorted(entry.id for entry in demo_entries(limit=12))
    assert index.namespaces.get(name="").vector_count == 12
    assert "Collected 12 docstrings from the standard library; 0 loaded already." in out.getvalue()
    assert "Loaded 12 entries into demo" in out.getvalue()
    assert "it now holds 12 vectors" in out.getvalue()
    out = StringIO()
    call_command("load_demo", "--limit", "12", stdout=out)
    assert "12 loaded already" in out.getvalue() and "Loaded 0 entries into demo" in out.getvalue()
    assert index.namespaces.get(name="").vector_count == 12
    load = DemoLoad.objects.get(index=index)
    assert (load.loaded, load.total, load.done) == (12, 12, True)


def test_it_loads_an_empty_demo_index_on_ensure(db: None, embed_once: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(demo, "STDLIB_MODULES", ("json",))
    out = StringIO()
    call_command("ensure_demo", "--foreground", stdout=out)
    count = Index.objects.get(name="demo").namespaces.get(name="").vector_count
    assert count == len(list(stdlib_entries(["json"])))
    assert f"Loaded {count} entries into demo in " in out.getvalue()
    out = StringIO()
    call_command("ensure_demo", stdout=out)  # loaded already: nothing to do, nothing queued
    assert out.getvalue() == f"Demo index demo is ready ({count} vectors).\n"


def test_it_refuses_a_demo_index_without_a_model(make_index: Any, embed_once: None, monkeypatch: Any) -> None:
    make_index("demo", dimension=384)
    with pytest.raises(CommandError, match=r"has no embedding model .*ensure_demo --recreate"):
        call_command("ensure_demo", stdout=StringIO())
    with pytest.raises(CommandError, match="has no embedding model"):
        call_command("load_demo", "--limit", "1", stdout=StringIO())
    monkeypatch.setattr(demo, "STDLIB_MODULES", ("json",))
    call_command("ensure_demo", "--recreate", stdout=StringIO())
    assert Index.objects.get(name="demo").embedding_model == "ALL_MINILM_L6_V2"
