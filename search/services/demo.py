"""The demo index that `make run` makes sure exists, and its corpus: the docstrings of
the Python standard library, which every Python install carries, so the demo works
offline. Each entry is one module, class, function or method with a docstring."""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from search.errors import SemanticError
from search.models import Index, Namespace
from search.services.embedding import EMBED_BATCH
from search.services.indexes import IndexSpec, index_create, index_delete
from search.services.records import RecordInput
from search.services.vectors import vectors_upsert_data

DEMO_INDEX_NAME = "demo"
DEMO_EMBEDDING_MODEL = "ALL_MINILM_L6_V2"
DEMO_NAMESPACE = ""
ID_PREFIX = "stdlib:"

# The first paragraphs are kept until the text is at least this long, and the whole is
# cut at the hard limit: enough to say what the thing does, short enough to embed well
# (all-MiniLM-L6-v2 reads at most 256 tokens).
SUMMARY_MIN_CHARS = 300
SUMMARY_MAX_CHARS = 1000

# A fixed list, so the corpus (and so the demo) is the same on every machine with the
# same Python. Modules that fail to import here (no sqlite3, no curses...) are skipped.
STDLIB_MODULES: tuple[str, ...] = (
    "json",
    "pathlib",
    "datetime",
    "collections",
    "collections.abc",
    "itertools",
    "functools",
    "operator",
    "re",
    "string",
    "textwrap",
    "difflib",
    "unicodedata",
    "os",
    "os.path",
    "sys",
    "shutil",
    "tempfile",
    "glob",
    "fnmatch",
    "io",
    "csv",
    "configparser",
    "tomllib",
    "sqlite3",
    "pickle",
    "copy",
    "pprint",
    "reprlib",
    "enum",
    "dataclasses",
    "typing",
    "abc",
    "contextlib",
    "types",
    "weakref",
    "math",
    "cmath",
    "decimal",
    "fractions",
    "numbers",
    "random",
    "statistics",
    "heapq",
    "bisect",
    "array",
    "struct",
    "codecs",
    "base64",
    "binascii",
    "hashlib",
    "hmac",
    "secrets",
    "uuid",
    "zlib",
    "gzip",
    "bz2",
    "lzma",
    "zipfile",
    "tarfile",
    "time",
    "calendar",
    "zoneinfo",
    "locale",
    "gettext",
    "logging",
    "logging.handlers",
    "warnings",
    "traceback",
    "inspect",
    "ast",
    "dis",
    "tokenize",
    "importlib",
    "importlib.metadata",
    "pkgutil",
    "argparse",
    "getopt",
    "shlex",
    "getpass",
    "platform",
    "signal",
    "subprocess",
    "threading",
    "multiprocessing",
    "concurrent.futures",
    "queue",
    "sched",
    "asyncio",
    "select",
    "selectors",
    "socket",
    "socketserver",
    "ssl",
    "ipaddress",
    "urllib.parse",
    "urllib.request",
    "http",
    "http.client",
    "http.server",
    "http.cookies",
    "http.cookiejar",
    "email",
    "email.message",
    "email.utils",
    "smtplib",
    "imaplib",
    "mailbox",
    "mimetypes",
    "html",
    "html.parser",
    "xml.etree.ElementTree",
    "xml.dom.minidom",
    "xmlrpc.client",
    "wsgiref.simple_server",
    "webbrowser",
    "unittest",
    "unittest.mock",
    "doctest",
    "timeit",
    "cProfile",
    "pstats",
    "pdb",
    "graphlib",
    "builtins",
)


@dataclass(frozen=True)
class DemoEntry:
    id: str
    data: str
    metadata: dict[str, str]

    def as_record(self) -> RecordInput:
        return RecordInput(id=self.id, data=self.data, metadata=dict(self.metadata))


class DemoIndexWithoutModel(SemanticError):
    """The demo index exists but predates text embeddings, so it cannot take the corpus."""


def summarize(doc: object) -> str:
    """The first paragraph(s) of a docstring on one line each, cut to SUMMARY_MAX_CHARS.

    Prose only: the text stops where examples, tables or literal blocks begin, and
    reST markup (``literal``, :func:`name`) is reduced to its text."""
    if not isinstance(doc, str) or not doc.strip():
        return ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", inspect.cleandoc(doc)) if p.strip()]
    kept: list[str] = []
    for paragraph in paragraphs:
        if kept and paragraph.startswith(_NOT_PROSE):
            break
        if paragraph.endswith("::"):
            # A literal block follows: keep the sentence that introduces it, unless
            # that is all it is ("Example::").
            if len(paragraph) > 40 or not kept:
                kept.append(paragraph[:-1])
            break
        kept.append(paragraph)
        if sum(len(p) + 1 for p in kept) >= SUMMARY_MIN_CHARS:
            break
    text = _ROLE.sub(r"\1", "\n".join(kept)).replace("``", "")
    if len(text) > SUMMARY_MAX_CHARS:
        text = text[: SUMMARY_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


_NOT_PROSE = (">>>", "+-", "..", "|", "Example")
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")


def _entry(*, module: str, kind: str, name: str, qualname: str, doc: object) -> DemoEntry | None:
    summary = summarize(doc)
    if not summary:
        return None
    return DemoEntry(
        id=f"{ID_PREFIX}{qualname}",
        data=f"{qualname}: {summary}",
        metadata={"module": module, "kind": kind, "name": name, "qualname": qualname},
    )


def _import(name: str) -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:
        return None


def _public_members(module: ModuleType) -> Iterator[tuple[str, Any]]:
    """The module's own public classes and functions: those in `__all__`, or else those
    whose `__module__` is this module (not whatever it happens to import)."""
    exported = getattr(module, "__all__", None)
    names = sorted(exported) if isinstance(exported, (list, tuple)) else sorted(vars(module))
    for name in names:
        if not isinstance(name, str) or name.startswith("_"):
            continue
        value = getattr(module, name, None)
        if not (inspect.isclass(value) or inspect.isroutine(value)):
            continue
        if exported is None and getattr(value, "__module__", None) != module.__name__:
            continue
        yield name, value


def _methods(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods defined on the class itself (inherited ones belong to the base)."""
    for name, value in sorted(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
        if inspect.isroutine(value):
            yield name, value


def stdlib_entries(modules: Sequence[str] | None = None) -> Iterator[DemoEntry]:
    """Walk the modules (STDLIB_MODULES by default) in order, yielding each documented
    public thing once."""
    seen_ids: set[str] = set()
    for entry in _documented(STDLIB_MODULES if modules is None else modules):
        if entry is not None and entry.id not in seen_ids:
            seen_ids.add(entry.id)
            yield entry


def _documented(modules: Sequence[str]) -> Iterator[DemoEntry | None]:
    """Each module, then its public classes and functions, each class followed by its
    methods; None for those without a docstring worth a record."""
    seen_objects: set[int] = set()
    for module_name in modules:
        module = _import(module_name)
        if module is None:
            continue
        yield _entry(module=module_name, kind="module", name=module_name, qualname=module_name, doc=module.__doc__)
        for name, value in _public_members(module):
            # A class or function re-exported by a later module stays with the first.
            if id(value) in seen_objects:
                continue
            seen_objects.add(id(value))
            qualname = f"{module_name}.{name}"
            kind = "class" if inspect.isclass(value) else "function"
            yield _entry(module=module_name, kind=kind, name=name, qualname=qualname, doc=value.__doc__)
            if kind != "class":
                continue
            for method_name, method in _methods(value):
                yield _entry(
                    module=module_name,
                    kind="method",
                    name=method_name,
                    qualname=f"{qualname}.{method_name}",
                    doc=method.__doc__,
                )


def demo_entries(*, limit: int | None = None) -> list[DemoEntry]:
    entries: list[DemoEntry] = []
    for entry in stdlib_entries():
        if limit is not None and len(entries) >= limit:
            break
        entries.append(entry)
    return entries


def ensure_demo_index(*, name: str = DEMO_INDEX_NAME, recreate: bool = False) -> tuple[Index, bool]:
    """The demo index and whether it was just made. One made before text embeddings (no
    model) cannot hold the corpus: it is refused unless `recreate` replaces it."""
    index = Index.objects.filter(name=name).first()
    if index is not None and recreate:
        index_delete(index=index)
        index = None
    if index is None:
        # The tokens are not shown: `rotate_tokens demo` issues a pair when someone needs them.
        created = index_create(IndexSpec(name=name, embedding_model=DEMO_EMBEDDING_MODEL))
        return created.index, True
    if index.embedding_model != DEMO_EMBEDDING_MODEL:
        has = f"embedding model {index.embedding_model}" if index.embedding_model else "no embedding model"
        raise DemoIndexWithoutModel(
            f"the index {name!r} exists but has {has} (the demo needs {DEMO_EMBEDDING_MODEL}), so it cannot "
            f"take the demo corpus; replace it with `manage.py ensure_demo --recreate` (this deletes its vectors)"
        )
    return index, False


def demo_vector_count(*, index: Index) -> int:
    namespace = Namespace.objects.filter(index=index, name=DEMO_NAMESPACE).first()
    return namespace.vector_count if namespace is not None else 0


def demo_load(
    *,
    index: Index,
    entries: Sequence[DemoEntry],
    batch_size: int = EMBED_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Embed and upsert the entries in batches. Ids are stable, so loading again
    updates the same records instead of adding new ones."""
    for start in range(0, len(entries), batch_size):
        batch = entries[start : start + batch_size]
        vectors_upsert_data(index=index, namespace=DEMO_NAMESPACE, records=[entry.as_record() for entry in batch])
        if on_batch is not None:
            on_batch(len(batch))
    return len(entries)
