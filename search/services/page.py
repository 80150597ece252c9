"""The search page: text searches over the demo index, taken ten at a time through the
resumable query services, with handles owned by the visitor's session."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from search.errors import NotFound, SemanticError
from search.models import Index, ResumableQuery
from search.services.demo import DEMO_EMBEDDING_MODEL, DEMO_INDEX_NAME, DEMO_NAMESPACE
from search.services.embedding import resolve_query
from search.services.records import Include, StoredRecord
from search.services.resumable import resumable_query_end, resumable_query_next, resumable_query_start

PAGE_SIZE = 10
# A page left open but unused frees its handle after this long; the page says so and
# offers to run the search again.
PAGE_MAX_IDLE = 600
SESSION_KEY = "search_page_handles"
# Handles one visitor may hold at once (several tabs); starting one more ends the oldest,
# so one visitor cannot use up the index's cap on active queries.
SESSION_MAX_HANDLES = 5


@dataclass(frozen=True)
class PageResult:
    rank: int
    id: str
    score: float
    title: str
    text: str
    metadata: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "score": self.score,
            "title": self.title,
            "text": self.text,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class PageBatch:
    """One batch for the page. `done` means the results ran out and the handle is gone."""

    handle: uuid_module.UUID | None
    results: list[PageResult]
    shown: int
    done: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "handle": str(self.handle) if self.handle is not None and not self.done else None,
            "results": [result.as_json() for result in self.results],
            "shown": self.shown,
            "done": self.done,
        }


def page_index() -> Index:
    """The index the page searches: the demo index, which must take text."""
    index = Index.objects.filter(name=DEMO_INDEX_NAME).first()
    if index is None:
        raise NotFound(
            f"the demo index {DEMO_INDEX_NAME!r} does not exist yet; run `manage.py load_demo` to make and load it"
        )
    if not index.embedding_model:
        raise SemanticError(
            f"the demo index {DEMO_INDEX_NAME!r} has no embedding model (the page needs {DEMO_EMBEDDING_MODEL}); "
            f"replace it with `manage.py ensure_demo --recreate`"
        )
    return index


def page_search_start(*, index: Index, text: str, filter_text: str, size: int = PAGE_SIZE) -> PageBatch:
    """Embed the text, start a resumable query and take its first batch."""
    vector = resolve_query(index=index, data={"data": text})["vector"]
    handle, records = resumable_query_start(
        index=index,
        namespace=DEMO_NAMESPACE,
        vector=vector,
        sparse=None,
        top_k=size,
        include=Include(metadata=True, data=True),
        filter_text=filter_text,
        max_idle=PAGE_MAX_IDLE,
        kind=ResumableQuery.Kind.TEXT,
        query_text=text,
    )
    if handle is None:  # an empty index has no default namespace rows to search
        return PageBatch(handle=None, results=[], shown=0, done=True)
    return _batch(index=index, handle=handle, records=records, size=size)


def page_search_next(*, index: Index, handle: uuid_module.UUID, size: int = PAGE_SIZE) -> PageBatch:
    """The next batch of a running search. NotFound when the handle expired or was stopped."""
    _, records = resumable_query_next(index=index, uuid=handle, additional_k=size)
    return _batch(index=index, handle=handle, records=records, size=size)


def page_search_end(*, index: Index, handle: uuid_module.UUID) -> bool:
    """Stop a search; False when it was already gone (stopped, expired or swept)."""
    try:
        resumable_query_end(index=index, uuid=handle)
    except NotFound:
        return False
    return True


def _batch(*, index: Index, handle: uuid_module.UUID, records: list[StoredRecord], size: int) -> PageBatch:
    progress = ResumableQuery.objects.filter(uuid=handle).values("returned_count", "exhausted", "consumed", "buffered")
    row = progress.first()
    shown = row["returned_count"] if row is not None else len(records)
    # Out of results: a short batch, or nothing left in the buffer and nothing beyond it.
    done = len(records) < size or (row is not None and row["exhausted"] and row["consumed"] >= row["buffered"])
    if done:
        page_search_end(index=index, handle=handle)
    first_rank = shown - len(records) + 1
    return PageBatch(
        handle=handle,
        results=[_result(first_rank + offset, record) for offset, record in enumerate(records)],
        shown=shown,
        done=done,
    )


def _result(rank: int, record: StoredRecord) -> PageResult:
    metadata = record.metadata or {}
    title = str(metadata.get("qualname") or record.id)
    text = record.data or ""
    # The corpus prefixes each text with its name (it helps the embedding); the page
    # shows the name as the title already.
    if text.startswith(f"{title}: "):
        text = text[len(title) + 2 :]
    return PageResult(
        rank=rank, id=record.id, score=float(record.score or 0.0), title=title, text=text, metadata=metadata
    )


def session_claim(session: SessionBase, *, index: Index, handle: uuid_module.UUID) -> None:
    """Record that this session owns the handle. Past SESSION_MAX_HANDLES, the session's
    oldest searches are stopped, so one visitor cannot use up the index's cap."""
    handles = [*session.get(SESSION_KEY, []), str(handle)]
    session[SESSION_KEY] = handles[-SESSION_MAX_HANDLES:]
    for old in handles[:-SESSION_MAX_HANDLES]:
        page_search_end(index=index, handle=uuid_module.UUID(old))


def session_owns(session: SessionBase, handle: uuid_module.UUID) -> bool:
    return str(handle) in session.get(SESSION_KEY, [])


def session_release(session: SessionBase, handle: uuid_module.UUID) -> None:
    handles = session.get(SESSION_KEY, [])
    if str(handle) in handles:
        session[SESSION_KEY] = [value for value in handles if value != str(handle)]
