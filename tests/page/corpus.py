"""A small demo corpus for the page's tests, embedded once per run.

The real model embeds every text (no fakes), but each distinct text only once per test
run: the same 200 docstrings are loaded again for every test, since each test starts
from an empty database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from search.models import Index
from search.services import embedding as embedding_service
from search.services.demo import demo_entries, demo_load, ensure_demo_index
from search.services.indexes import index_delete

_VECTORS: dict[tuple[str, str], list[float]] = {}
_REAL_EMBED_DENSE = embedding_service.embed_dense


def embed_dense_once(index: Index, texts: Any) -> list[list[float]]:
    texts = list(texts)
    missing = list(dict.fromkeys(text for text in texts if (index.embedding_model, text) not in _VECTORS))
    if missing:
        for text, vector in zip(missing, _REAL_EMBED_DENSE(index, missing), strict=True):
            _VECTORS[(index.embedding_model, text)] = vector
    return [_VECTORS[(index.embedding_model, text)] for text in texts]


@pytest.fixture
def embed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # embed_documents and embed_query look embed_dense up in their module at call time,
    # in the test's thread and in the live server's alike.
    monkeypatch.setattr(embedding_service, "embed_dense", embed_dense_once)


def load_small_demo(limit: int) -> Iterator[Index]:
    """The demo index with the first `limit` entries of the real corpus; dropped after."""
    index, _ = ensure_demo_index()
    demo_load(index=index, entries=demo_entries(limit=limit))
    yield index
    # A transactional test's flush would leave the index's HNSW index behind.
    if Index.objects.filter(pk=index.pk).exists():
        index_delete(index=index)
