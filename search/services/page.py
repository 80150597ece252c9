"""The search page: text searches over the demo index, taken ten at a time through the
resumable query services (the web layer keeps which handles a visitor owns)."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from typing import Any

from search.errors import NotFound, SemanticError
from search.filtering import CompiledFilter
from search.models import Index
from search.services.demo import DEMO_EMBEDDING_MODEL, DEMO_INDEX_NAME, DEMO_NAMESPACE
from search.services.records import Include, StoredRecord
from search.services.resumable import resumable_query_end, resumable_query_next, resumable_query_start
from search.services.shares import Holder
from search.services.specs import QuerySpec, ResumableBatch

PAGE_SIZE = 10
# A page left open but unused frees its handle after this long; the page says so and
# offers to run the search again.
PAGE_MAX_IDLE = 600


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


def page_search_start(
    *, index: Index, text: str, filter: CompiledFilter | None, holder: Holder, size: int = PAGE_SIZE
) -> PageBatch:
    """Start a resumable query for the text (embedded by the index's model); its first
    batch. The handle counts against the page's caps, not the API's (`holder`)."""
    spec = QuerySpec(
        namespace=DEMO_NAMESPACE, data=text, top_k=size, include=Include(metadata=True, data=True), filter=filter
    )
    return _page_batch(index, resumable_query_start(index=index, spec=spec, max_idle=PAGE_MAX_IDLE, holder=holder))


def page_search_next(*, index: Index, handle: uuid_module.UUID, size: int = PAGE_SIZE) -> PageBatch:
    """The next batch of a running search. NotFound when the handle expired or was stopped."""
    return _page_batch(index, resumable_query_next(index=index, handle=handle, additional_k=size))


def page_search_end(*, index: Index, handle: uuid_module.UUID) -> bool:
    """Stop a search; False when it was already gone (stopped, expired or swept)."""
    try:
        resumable_query_end(index=index, handle=handle)
    except NotFound:
        return False
    return True


def _page_batch(index: Index, batch: ResumableBatch) -> PageBatch:
    # The page stops a search whose results ran out: its handle is of no more use.
    if batch.handle is not None and batch.finished:
        page_search_end(index=index, handle=batch.handle)
    first_rank = batch.returned - len(batch.records) + 1
    return PageBatch(
        handle=batch.handle,
        results=[_result(first_rank + offset, record) for offset, record in enumerate(batch.records)],
        shown=batch.returned,
        done=batch.finished,
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
