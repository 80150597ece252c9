"""A bulk load from start to end: find or start its job, drop the HNSW index when
rebuilding it beats keeping it, write batch after batch, build the index again.

Each batch commits with the job's new position, so an interrupted load (Ctrl-C, a killed
process, a bad record) resumes after its last committed batch when run again. Re-running
a batch is harmless in any case: an upsert of the same records changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from django.db import connection, transaction
from django.db.models import Sum

from search.errors import Conflict, InvalidInput
from search.imports.sources import Source
from search.imports.validation import BadRecord, validate_batch
from search.imports.writer import write_batch
from search.models import ImportJob, Index, Namespace
from search.services.indexes import hnsw_index_build, hnsw_index_drop
from search.services.namespaces import validate_namespace_name

# Building the graph once costs about a quarter of what inserting the same rows into a
# live HNSW index costs (bench/README.md#bulk_importpy), so rebuilding wins once the load
# is at least a third of what the index already holds: (E + N) / 4 < N.
REBUILD_FRACTION = 1 / 3
MEMORY = re.compile(r"[1-9][0-9]*\s*(kB|MB|GB|TB)")
# Session advisory locks of the form (ADVISORY_SPACE, index pk): one load per index at a time.
ADVISORY_SPACE = 0x76656373  # "vecs"


class HnswMode(StrEnum):
    AUTO = "auto"
    REBUILD = "rebuild"
    KEEP = "keep"


@dataclass(frozen=True)
class ImportOptions:
    batch_size: int = 5000
    hnsw: HnswMode = HnswMode.AUTO
    maintenance_work_mem: str = "1GB"
    restart: bool = False


@dataclass(frozen=True)
class ImportEvents:
    """What the command shows: the file's size in lines and how many are done already,
    each committed batch (lines consumed), each step."""

    on_start: Callable[[int, int], None] = lambda total, done: None
    on_lines: Callable[[int], None] = lambda lines: None
    on_note: Callable[[str], None] = lambda note: None


@dataclass(frozen=True)
class ImportResult:
    job: ImportJob
    resumed_at_line: int  # 0 for a fresh load
    inserted: int
    replaced: int
    load_seconds: float
    hnsw_seconds: float | None  # None when the HNSW index was kept


def check_options(options: ImportOptions) -> None:
    if options.batch_size < 1:
        raise InvalidInput("must be at least 1", field="batch_size")
    if not MEMORY.fullmatch(options.maintenance_work_mem):
        raise InvalidInput("a size such as 512MB or 2GB", field="maintenance_work_mem")


def import_run(
    *, index: Index, namespace: str, source: Source, options: ImportOptions, events: ImportEvents | None = None
) -> ImportResult:
    """Load `source` into the namespace; a BadRecord stops it (the batch holding the bad
    record writes nothing) and leaves the job to resume."""
    events = events or ImportEvents()
    check_options(options)
    validate_namespace_name(namespace)
    with _exclusive(index):
        job = _job_for(index=index, namespace=namespace, source=source, options=options, events=events)
        resumed_at = job.lines_done
        events.on_start(job.total_lines, job.lines_done)
        started = time.monotonic()
        # Dropped once the first batch has passed validation: a file bad from its start
        # leaves the index as it was.
        drop = not job.hnsw_definition and _rebuild(index, job, options.hnsw)
        inserted = replaced = 0
        for batch in source.batches(position=job.position, line=job.lines_done, size=options.batch_size):
            try:
                records = validate_batch(index, batch.items)
            except BadRecord as bad:
                ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.FAILED, error=str(bad))
                raise
            if drop:
                with transaction.atomic():
                    job.hnsw_definition = hnsw_index_drop(index)
                    job.save(update_fields=["hnsw_definition", "updated_at"])
                drop = False
                events.on_note(f"Dropped the HNSW index of {index.name}; it is built again once the load is done.")
            with transaction.atomic():
                written = write_batch(index=index, namespace=namespace, records=records)
                job.records_done += len(records)
                job.lines_done += batch.lines
                job.position = batch.end
                job.save(update_fields=["records_done", "lines_done", "position", "updated_at"])
            inserted += written.inserted
            replaced += written.replaced
            events.on_lines(batch.lines)
        load_seconds = time.monotonic() - started
        hnsw_seconds = _finish(index, job, options, events)
    return ImportResult(
        job=job,
        resumed_at_line=resumed_at,
        inserted=inserted,
        replaced=replaced,
        load_seconds=load_seconds,
        hnsw_seconds=hnsw_seconds,
    )


def import_abandon(*, index: Index, maintenance_work_mem: str = "1GB") -> list[ImportJob]:
    """Give up the index's unfinished loads; its HNSW index is built again if one dropped it."""
    check_options(ImportOptions(maintenance_work_mem=maintenance_work_mem))
    with _exclusive(index):
        jobs = list(ImportJob.objects.filter(index=index).unfinished())
        definition = next((job.hnsw_definition for job in jobs if job.hnsw_definition), "")
        with transaction.atomic():
            if definition:
                hnsw_index_build(index, definition, maintenance_work_mem=maintenance_work_mem)
            ImportJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
                state=ImportJob.State.ABANDONED, hnsw_definition=""
            )
    return jobs


def _job_for(
    *, index: Index, namespace: str, source: Source, options: ImportOptions, events: ImportEvents
) -> ImportJob:
    """The unfinished job for this very file and namespace, or a new one. A new job takes
    over the HNSW definition of the unfinished ones it replaces (their loads dropped the
    index), so that it is built again when this load ends."""
    fingerprint = source.fingerprint()
    unfinished = list(ImportJob.objects.filter(index=index).unfinished())
    for job in unfinished:
        same = job.source == source.description and job.namespace == namespace
        if same and job.fingerprint == fingerprint and not options.restart:
            events.on_note(
                f"Resuming the load of {job.source} after line {job.lines_done} ({job.records_done} records)."
            )
            job.state, job.error = ImportJob.State.RUNNING, ""
            job.save(update_fields=["state", "error", "updated_at"])
            return job
        why = "--restart" if same and options.restart else "changed since" if same else "replaced"
        events.on_note(
            f"Abandoning the unfinished load of {job.source} into namespace {job.namespace!r} "
            f"(line {job.lines_done}; {why}); records it wrote stay, and loading them again replaces them."
        )
    with transaction.atomic():
        definition = next((job.hnsw_definition for job in unfinished if job.hnsw_definition), "")
        ImportJob.objects.filter(pk__in=[job.pk for job in unfinished]).update(
            state=ImportJob.State.ABANDONED, hnsw_definition=""
        )
        return ImportJob.objects.create(
            index=index,
            namespace=namespace,
            source=source.description,
            fingerprint=fingerprint,
            total_lines=source.count(),
            hnsw_definition=definition,
        )


def _rebuild(index: Index, job: ImportJob, mode: HnswMode) -> bool:
    """Whether to drop the HNSW index for the rest of this load."""
    remaining = job.total_lines - job.lines_done
    if not index.has_dense or mode == HnswMode.KEEP or remaining <= 0:
        return False
    if mode == HnswMode.REBUILD:
        return True
    stored = Namespace.objects.filter(index=index).aggregate(total=Sum("vector_count"))["total"] or 0
    return remaining >= stored * REBUILD_FRACTION


def _finish(index: Index, job: ImportJob, options: ImportOptions, events: ImportEvents) -> float | None:
    """Build the HNSW index again if this load dropped it, and mark the job done, in one
    transaction: interrupted during the build, the job still knows what to build."""
    started = time.monotonic()
    with transaction.atomic():
        if job.hnsw_definition:
            events.on_note(
                f"Building the HNSW index of {index.name} (maintenance_work_mem {options.maintenance_work_mem}) ..."
            )
            hnsw_index_build(index, job.hnsw_definition, maintenance_work_mem=options.maintenance_work_mem)
        built = bool(job.hnsw_definition)
        job.hnsw_definition, job.state = "", ImportJob.State.DONE
        job.save(update_fields=["hnsw_definition", "state", "updated_at"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_vector")  # the planner's statistics, after many rows at once
    return time.monotonic() - started if built else None


@contextmanager
def _exclusive(index: Index) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s::int, %s::int)", [ADVISORY_SPACE, index.pk])
        (locked,) = cursor.fetchone() or (False,)
    if not locked:
        raise Conflict(f"another import into {index.name} is running", field="index")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s::int, %s::int)", [ADVISORY_SPACE, index.pk])
