from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.models import Index
from search.services.indexes import index_delete


class Command(BaseCommand):
    help = "Delete an index with all its namespaces, vectors and resumable queries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        index = Index.objects.filter(name=options["name"]).first()
        if index is None:
            raise CommandError(f"no index named {options['name']!r}")
        if not options["yes"]:
            answer = input(f"Delete index {index.name} and all its vectors? [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("not deleted")
        index_delete(index=index)
        self.stdout.write(self.style.SUCCESS(f"Deleted index {index.name}."))
