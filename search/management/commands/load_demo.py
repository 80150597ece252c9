from __future__ import annotations

import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from search.errors import ServiceError
from search.services.demo import DEMO_INDEX_NAME, demo_vector_count, ensure_demo_index
from search.services.demo_load import demo_corpus, demo_load_begin, demo_load_chunk

# How long to wait for a Celery worker that holds the load's current chunk.
LOCKED_WAIT_SECONDS = 0.5


class Command(BaseCommand):
    help = (
        "Load the demo index with the docstrings of the Python standard library (about 4,000 "
        "modules, classes, functions and methods), embedded with ALL_MINILM_L6_V2, here and now, "
        "with a progress bar. It carries on where the load stopped (in a Celery task or an "
        "earlier run), chunk by chunk; what is loaded already is not embedded again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=DEMO_INDEX_NAME, help=f"Demo index name (default {DEMO_INDEX_NAME}).")
        parser.add_argument(
            "--limit", type=int, help="Load only the first N entries (a quick, small demo; default VECSITE_DEMO_LIMIT)."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=settings.VECSITE_DEMO_CHUNK,
            help=f"Entries embedded per chunk (default VECSITE_DEMO_CHUNK, {settings.VECSITE_DEMO_CHUNK}).",
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
        corpus_limit = settings.VECSITE_DEMO_LIMIT if limit is None else limit
        corpus = demo_corpus(corpus_limit)
        load = demo_load_begin(index=index)
        first = load.loaded
        self.stdout.write(
            f"Collected {len(corpus)} docstrings from the standard library; {min(first, len(corpus))} loaded already."
        )
        loaded = first
        # The bar goes to the terminal only (tqdm turns itself off when stderr is not one).
        with tqdm(
            total=len(corpus), initial=min(first, len(corpus)), unit="entry", file=sys.stderr, disable=None
        ) as bar:
            while loaded < len(corpus):
                chunk = demo_load_chunk(load_id=load.pk, size=batch_size, limit=corpus_limit)
                if chunk is None:  # a Celery worker is loading a chunk: wait for it
                    time.sleep(LOCKED_WAIT_SECONDS)
                    continue
                bar.update(min(chunk.progress.loaded, len(corpus)) - bar.n)
                loaded = chunk.progress.loaded
        elapsed = time.monotonic() - started
        count = max(0, loaded - first)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {count} entries into {index.name} in {elapsed:.1f} s "
                f"({count / max(elapsed, 1e-9):.0f} entries/s); it now holds "
                f"{demo_vector_count(index=index)} vectors."
            )
        )
