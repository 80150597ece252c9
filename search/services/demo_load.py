"""Loading the demo corpus beside serving: `make run` starts the load (ensure_demo) and
serves at once; a Celery task embeds one chunk, records how far it got and queues the
next, so a restart carries on where the load stopped and the page searches what is
loaded so far. `load_demo` runs the same chunks in the foreground."""

from __future__ import annotations

import functools
import itertools
import logging
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from search.models import DemoLoad, Index, Vector
from search.services import demo
from search.services.demo import DEMO_INDEX_NAME, DEMO_NAMESPACE, DemoEntry, stdlib_entries
from search.services.vectors import vectors_upsert_data

logger = logging.getLogger(__name__)

LOAD_TASK = "search.tasks.load_demo_chunk"


@dataclass(frozen=True)
class DemoProgress:
    """How far a load has got: `loaded` of `total` entries (total 0: not counted yet)."""

    loaded: int
    total: int
    done: bool
    error: str = ""

    @classmethod
    def of(cls, load: DemoLoad) -> DemoProgress:
        return cls(loaded=load.loaded, total=load.total, done=load.done, error=load.error)

    @property
    def percent(self) -> int:
        return 100 if self.done else (100 * self.loaded // self.total if self.total else 0)

    def as_json(self) -> dict[str, object]:
        return {"loaded": self.loaded, "total": self.total, "done": self.done, "percent": self.percent}


@dataclass(frozen=True)
class DemoChunk:
    """One chunk's work: the progress after it, and how many of its entries were embedded
    (entries already stored with the same text are not embedded again)."""

    progress: DemoProgress
    embedded: int


def demo_corpus(limit: int) -> tuple[DemoEntry, ...]:
    """The corpus to load (its first `limit` entries; 0: all), walked once per process."""
    return _walk(demo.STDLIB_MODULES, limit)


@functools.cache
def _walk(modules: tuple[str, ...], limit: int) -> tuple[DemoEntry, ...]:
    return tuple(itertools.islice(stdlib_entries(modules), limit or None))


def demo_load_begin(*, index: Index) -> DemoLoad:
    """The index's load, made on first use. Loads made before progress was kept find the
    entries already stored and skip them without embedding."""
    load, _ = DemoLoad.objects.get_or_create(index=index)
    return load


def demo_load_queue(load: DemoLoad) -> None:
    """Queue the load's next chunk, once the caller's transaction commits. The task is
    named, not imported: tasks call services, not the other way round."""
    load_id = load.pk
    transaction.on_commit(lambda: current_app.send_task(LOAD_TASK, args=[load_id]))


def demo_load_chunk(*, load_id: int, size: int | None = None, limit: int | None = None) -> DemoChunk | None:
    """Load the next chunk of `size` entries (VECSITE_DEMO_CHUNK) up to the first `limit`
    (VECSITE_DEMO_LIMIT, 0: all), holding the load's row lock, and move the load on.
    None when another process holds the load (it carries on) or the load is gone."""
    size = size or settings.VECSITE_DEMO_CHUNK
    corpus = demo_corpus(settings.VECSITE_DEMO_LIMIT if limit is None else limit)
    with transaction.atomic():
        # The load's row alone (not its index's, which every search of the index keys on).
        locked = DemoLoad.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
        load = locked.select_related("index").filter(pk=load_id).first()
        if load is None:
            return None
        chunk = corpus[load.loaded : load.loaded + size]
        embedded = _store(load.index, chunk)
        load.total = max(load.total, len(corpus))
        load.loaded += len(chunk)
        load.error = ""
        if load.loaded < len(corpus):
            load.finished_at = None  # a load finished with a smaller limit goes on
        elif load.finished_at is None:
            load.finished_at = timezone.now()
        load.save()
    return DemoChunk(progress=DemoProgress.of(load), embedded=embedded)


def demo_load_step(*, load_id: int) -> int:
    """The Celery task's service: load one chunk and queue the next unless the load is
    done. A second chain (a task queued twice) just shares the chunks; one that finds the
    load locked stops, since the holder carries on. Returns the entries loaded so far."""
    try:
        chunk = demo_load_chunk(load_id=load_id)
    except Exception as error:
        demo_load_failed(load_id=load_id, error=error)
        raise
    if chunk is None:
        return 0
    if not chunk.progress.done:
        current_app.send_task(LOAD_TASK, args=[load_id])
    else:
        logger.info("the demo corpus is loaded: %d entries", chunk.progress.loaded)
    return chunk.progress.loaded


def _store(index: Index, chunk: tuple[DemoEntry, ...]) -> int:
    """Upsert the chunk's entries that the index does not already hold with the same text."""
    stored = dict(
        Vector.objects.filter(index=index, namespace__name=DEMO_NAMESPACE, key__in=[entry.id for entry in chunk])
        .values_list("key", "data")
        .iterator()
    )
    missing = [entry for entry in chunk if stored.get(entry.id) != entry.data]
    if missing:
        vectors_upsert_data(index=index, namespace=DEMO_NAMESPACE, records=[entry.as_record() for entry in missing])
    return len(missing)


def demo_load_failed(*, load_id: int, error: Exception) -> None:
    """Record why a chunk failed, for the admin and the page; `ensure_demo` (the next
    `make run`) or the admin's *Resume* queues the load again."""
    DemoLoad.objects.filter(pk=load_id).update(error=f"{type(error).__name__}: {error}"[:2000])


def demo_progress(*, name: str = DEMO_INDEX_NAME) -> DemoProgress | None:
    """How far the load of the demo index has got; None when it has not started."""
    load = DemoLoad.objects.filter(index__name=name).first()
    return DemoProgress.of(load) if load is not None else None
