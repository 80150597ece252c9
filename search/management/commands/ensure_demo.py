from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.errors import ServiceError
from search.services.demo import DEMO_INDEX_NAME, demo_vector_count, ensure_demo_index


class Command(BaseCommand):
    help = (
        "Make sure the demo index exists, with the ALL_MINILM_L6_V2 embedding model, and load "
        "it with the standard library's docstrings (load_demo) when it is empty."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=DEMO_INDEX_NAME, help=f"Demo index name (default {DEMO_INDEX_NAME}).")
        parser.add_argument(
            "--recreate",
            action="store_true",
            help="Delete the demo index (and its vectors) and make it again, e.g. one made without a model.",
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
        count = demo_vector_count(index=index)
        if count:
            self.stdout.write(f"Demo index {index.name} is ready ({count} vectors).")
            return
        self.stdout.write(f"Demo index {index.name} is empty; loading it (this takes a few minutes, once).")
        call_command("load_demo", name=index.name, stdout=self.stdout._out, stderr=self.stderr._out)
