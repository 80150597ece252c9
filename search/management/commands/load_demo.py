from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from search.errors import ServiceError
from search.services.demo import DEMO_INDEX_NAME, demo_entries, demo_load, demo_vector_count, ensure_demo_index
from search.services.embedding import EMBED_BATCH


class Command(BaseCommand):
    help = (
        "Load the demo index with the docstrings of the Python standard library (about 4,000 "
        "modules, classes, functions and methods), embedded with ALL_MINILM_L6_V2. Safe to run "
        "again: the ids are stable, so records are updated, never duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=DEMO_INDEX_NAME, help=f"Demo index name (default {DEMO_INDEX_NAME}).")
        parser.add_argument("--limit", type=int, help="Load only the first N entries (a quick, small demo).")
        parser.add_argument(
            "--batch-size", type=int, default=EMBED_BATCH, help=f"Entries embedded per batch (default {EMBED_BATCH})."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit: int | None = options["limit"]
        batch_size: int = options["batch_size"]
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            index, created = ensure_demo_index(name=str(options["name"]))
        except ServiceError as error:
            raise CommandError(str(error)) from None
        if created:
            self.stdout.write(f"Created the demo index {index.name}.")
        started = time.monotonic()
        entries = demo_entries(limit=limit)
        self.stdout.write(f"Collected {len(entries)} docstrings from the standard library; embedding them.")
        # The bar goes to the terminal only (tqdm turns itself off when stderr is not one).
        with tqdm(total=len(entries), unit="entry", file=sys.stderr, disable=None, dynamic_ncols=True) as bar:

            def advance(count: int) -> None:
                bar.update(count)

            demo_load(index=index, entries=entries, batch_size=batch_size, on_batch=advance)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {len(entries)} entries into {index.name} in {elapsed:.1f} s "
                f"({len(entries) / max(elapsed, 1e-9):.0f} entries/s); it now holds "
                f"{demo_vector_count(index=index)} vectors."
            )
        )
