from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from search.errors import ServiceError
from search.imports.jobs import HnswMode, ImportEvents, ImportOptions, import_abandon, import_run
from search.imports.sources import open_source
from search.imports.validation import BadRecord
from search.models import Index


class Command(BaseCommand):
    help = (
        "Load a file of records into an index, far faster than the API: validated exactly as "
        "the API's upsert validates them, written with COPY, the index's HNSW graph built once at "
        "the end (when that beats keeping it). FILE is JSON Lines, one upsert item a line as the "
        'API takes them ({"id": ..., "vector": [...], "sparseVector": {...}, "metadata": {...}, '
        '"data": "..."}; on an index with an embedding model, an item with data and no vector '
        "parts is embedded, as upsert-data does), or a .npy array of vectors with --ids. An id "
        "that exists is replaced. A bad record stops the load with its line and field; nothing "
        "of its batch is written, the batches before it are. An interrupted load (Ctrl-C, a bad "
        "record, a crash) resumes after its last written batch when the same command runs again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("index", help="Name of the index to load into.")
        parser.add_argument(
            "file", nargs="?", type=Path, help="A .jsonl file (any name but .npy), or a .npy array of vectors."
        )
        parser.add_argument("--namespace", default="", help="Namespace to load into (default: the default one).")
        parser.add_argument(
            "--ids", type=Path, help="With a .npy file: a text file of ids, one a line, line N for row N."
        )
        parser.add_argument(
            "--metadata",
            type=Path,
            help="With a .npy file: a JSON Lines file of metadata objects (or null), line N for row N.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=ImportOptions.batch_size,
            help=f"Records per transaction (default {ImportOptions.batch_size}): the unit a bad record "
            "keeps from being written, and that a resumed load starts again from.",
        )
        parser.add_argument(
            "--hnsw",
            choices=[mode.value for mode in HnswMode],
            default=HnswMode.AUTO.value,
            help="auto (default): drop the index's HNSW index and build it once at the end when the load "
            "is at least a third of what the index holds, else keep it up to date row by row; rebuild or "
            "keep: always do that. While it is dropped, queries scan exactly (slower on large namespaces).",
        )
        parser.add_argument(
            "--maintenance-work-mem",
            default=ImportOptions.maintenance_work_mem,
            help=f"Memory for building the HNSW graph (default {ImportOptions.maintenance_work_mem}; "
            "about 2.5 KB per 384-dimension vector keeps the build in memory, which is much faster).",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Load the file from its first line even if an unfinished load of it could resume.",
        )
        parser.add_argument(
            "--abandon",
            action="store_true",
            help="Give up the index's unfinished loads (no FILE): build its HNSW index again if a load "
            "dropped it. What they wrote stays.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        index = Index.objects.filter(name=options["index"]).first()
        if index is None:
            raise CommandError(f"no index named {options['index']!r} (see list_indexes)")
        try:
            if options["abandon"]:
                if options["file"] is not None:
                    raise CommandError("--abandon takes no FILE")
                self._abandon(index, options)
            elif options["file"] is None:
                raise CommandError("FILE is required (or --abandon)")
            else:
                self._import(index, options)
        except ServiceError as error:
            raise CommandError(str(error)) from None

    def _abandon(self, index: Index, options: dict[str, Any]) -> None:
        jobs = import_abandon(index=index, maintenance_work_mem=str(options["maintenance_work_mem"]))
        for job in jobs:
            self.stdout.write(f"Abandoned the load of {job.source} (stopped after line {job.lines_done}).")
        if not jobs:
            self.stdout.write(f"{index.name} has no unfinished load.")

    def _import(self, index: Index, options: dict[str, Any]) -> None:
        try:
            source = open_source(Path(options["file"]), ids=options["ids"], metadata=options["metadata"])
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        settings = ImportOptions(
            batch_size=int(options["batch_size"]),
            hnsw=HnswMode(options["hnsw"]),
            maintenance_work_mem=str(options["maintenance_work_mem"]),
            restart=bool(options["restart"]),
        )
        # The bar goes to the terminal only (tqdm turns itself off when stderr is not one).
        bar = tqdm(unit="line", file=sys.stderr, disable=None, dynamic_ncols=True, smoothing=0.05)

        def start(total: int, done: int) -> None:
            bar.reset(total=total)
            bar.update(done)

        def advance(lines: int) -> None:
            bar.update(lines)

        def note(text: str) -> None:
            with bar.external_write_mode():
                self.stdout.write(text)

        try:
            with bar:
                result = import_run(
                    index=index,
                    namespace=str(options["namespace"]),
                    source=source,
                    options=settings,
                    events=ImportEvents(on_start=start, on_lines=advance, on_note=note),
                )
        except BadRecord as bad:
            raise CommandError(
                f"{source.description}: {bad}. Nothing of the batch holding it was written, the batches "
                "before it were. Fix it and run the same command again to go on; "
                f"`import_vectors {index.name} --abandon` gives the load up (and builds the HNSW index "
                "again if the load dropped it)."
            ) from None
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted. Run the same command again to resume after the last written batch."
            ) from None
        job = result.job
        hnsw = f"; HNSW index built in {result.hnsw_seconds:.1f} s" if result.hnsw_seconds is not None else ""
        resumed = f" (resumed after line {result.resumed_at_line})" if result.resumed_at_line else ""
        seconds = result.load_seconds + (result.hnsw_seconds or 0)
        loaded = result.inserted + result.replaced
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {loaded} records into {index.name}/{job.namespace}{resumed}: {result.inserted} new, "
                f"{result.replaced} replaced, in {seconds:.1f} s ({loaded / max(seconds, 1e-9):.0f} records/s)"
                f"{hnsw}."
            )
        )
