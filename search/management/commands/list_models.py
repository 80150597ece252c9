"""`manage.py list_models`: the embedding models this host can serve, and those it cannot yet."""

from __future__ import annotations

import dataclasses
import json

from django.core.management.base import BaseCommand, CommandParser

from search.embedding import list_models


class Command(BaseCommand):
    help = (
        "List embedding models: name, dimension, where the files come from (built-in, setting or "
        "registry file), pooling and status (ready, needs weights, or what is wrong)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print a JSON array instead of a table.")

    def handle(self, *args: object, **options: object) -> None:
        rows = list_models()
        if options["json"]:
            self.stdout.write(json.dumps([dataclasses.asdict(row) for row in rows]))
            return
        self.stdout.write(f"{'NAME':<20} {'DIM':>5} {'SOURCE':<14} {'POOLING':<10} {'STATUS'}")
        for row in rows:
            pooling = f"{row.pooling}{'+norm' if row.normalize else ''}" if row.pooling else "-"
            self.stdout.write(
                f"{row.name:<20} {row.dimension or '-':>5} {row.source:<14} {pooling:<10} {row.status}"
                + (f"  ({row.path})" if row.path else "")
            )
        for row in rows:
            if row.status == "needs weights":
                self.stdout.write(
                    f"{row.name}: download its files from https://huggingface.co/{row.repo}, "
                    f"then `manage.py register_model {row.name} DIR` (README: Embedding models)"
                )
