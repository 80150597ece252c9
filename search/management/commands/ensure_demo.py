from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from search.models import Index
from search.services.demo import DEMO_INDEX_NAME, ensure_demo_index


class Command(BaseCommand):
    help = "Make sure the demo index exists (and, once the corpus loader exists, is loaded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=DEMO_INDEX_NAME, help=f"Demo index name (default {DEMO_INDEX_NAME}).")

    def handle(self, *args: object, **options: object) -> None:
        existed = Index.objects.filter(name=options["name"]).exists()
        index = ensure_demo_index(name=str(options["name"]))
        if existed:
            self.stdout.write(f"Demo index {index.name} is ready.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created demo index {index.name}. Get API tokens for it with: "
                    f".venv/bin/python manage.py rotate_tokens {index.name}"
                )
            )
