from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.models import Index
from search.services.indexes import index_rotate_tokens


class Command(BaseCommand):
    help = "Replace both tokens of an index; the old tokens stop working at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--json", action="store_true", help="Print name, url, token, readonly_token as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        index = Index.objects.filter(name=options["name"]).first()
        if index is None:
            raise CommandError(f"no index named {options['name']!r}")
        payload = index_rotate_tokens(index=index).as_json()
        if options["json"]:
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(self.style.SUCCESS(f"New tokens for {index.name} (shown only now):"))
        self.stdout.write(f"Token:           {payload['token']}")
        self.stdout.write(f"Read-only token: {payload['readonly_token']}")
