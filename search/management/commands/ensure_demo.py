from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.errors import ServiceError
from search.services.demo import DEMO_INDEX_NAME, demo_vector_count, ensure_demo_index
from search.services.demo_load import demo_load_begin, demo_load_queue


class Command(BaseCommand):
    help = (
        "Make sure the demo index exists, with the ALL_MINILM_L6_V2 embedding model, and that the "
        "standard library's docstrings are loaded into it: unless the load is done, queue it as a "
        "Celery task (it carries on where it stopped) and return at once, or load in the foreground "
        "with --foreground."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=DEMO_INDEX_NAME, help=f"Demo index name (default {DEMO_INDEX_NAME}).")
        parser.add_argument(
            "--recreate",
            action="store_true",
            help="Delete the demo index (and its vectors) and make it again, e.g. one made without a model.",
        )
        parser.add_argument(
            "--foreground",
            action="store_true",
            help="Load what is left here, with a progress bar (load_demo), instead of in a Celery task.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = str(options["name"])
        try:
            index, created = ensure_demo_index(name=name, recreate=bool(options["recreate"]))
        except ServiceError as error:
            raise CommandError(f"Demo index: {error}") from None
        if created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created demo index {index.name}. Get API tokens for it with: "
                    f".venv/bin/python manage.py rotate_tokens {index.name}"
                )
            )
        load = demo_load_begin(index=index)
        if load.done:
            self.stdout.write(f"Demo index {index.name} is ready ({demo_vector_count(index=index)} vectors).")
            return
        if options["foreground"]:
            call_command("load_demo", name=index.name, stdout=self.stdout._out, stderr=self.stderr._out)
            return
        demo_load_queue(load)
        so_far = f"{load.loaded} of {load.total} entries" if load.total else "about 4,000 entries"
        self.stdout.write(
            f"Loading the demo corpus into {index.name} in the background ({so_far}), in a Celery task; "
            f"the search page searches what is loaded meanwhile and shows how far the load has got."
        )
