from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.errors import ServiceError
from search.models import IndexType, Similarity
from search.services.indexes import IndexSpec, index_create


class Command(BaseCommand):
    help = (
        "Create a vector index and print its URL and tokens (shown only this once). "
        "Use them as upstash_vector.Index(url=URL, token=TOKEN)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Unique name of the index (letters, digits, - and _).")
        parser.add_argument(
            "--dimension",
            type=int,
            help="Dense vector dimension (required for DENSE and HYBRID unless a model sets it).",
        )
        parser.add_argument(
            "--similarity",
            default=Similarity.COSINE,
            type=str.upper,
            choices=Similarity.values,
            help="Similarity function (default COSINE).",
        )
        parser.add_argument(
            "--type",
            dest="index_type",
            default=IndexType.DENSE,
            type=str.upper,
            choices=IndexType.values,
            help="Index type (default DENSE).",
        )
        parser.add_argument(
            "--embedding-model", default="", help="Dense embedding model, e.g. ALL_MINILM_L6_V2; sets the dimension."
        )
        parser.add_argument("--sparse-embedding-model", default="", help="Sparse embedding model, e.g. BM25.")
        parser.add_argument(
            "--max-active-queries", type=int, help="Cap on active resumable queries (default from settings)."
        )
        parser.add_argument(
            "--exact-resumable",
            action="store_true",
            help="Resumable queries scan exactly at any namespace size (slower starts on large namespaces, "
            "never an approximate result); by default they start from the HNSW index.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object: name, url, token, readonly_token."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credentials = index_create(
                IndexSpec(
                    name=str(options["name"]),
                    dimension=options["dimension"],
                    similarity=str(options["similarity"]),
                    index_type=str(options["index_type"]),
                    embedding_model=str(options["embedding_model"]),
                    sparse_embedding_model=str(options["sparse_embedding_model"]),
                    max_active_queries=options["max_active_queries"],
                    exact_resumable=bool(options["exact_resumable"]),
                )
            )
        except ServiceError as error:
            raise CommandError(str(error)) from None
        except Exception as error:  # full_clean's ValidationError and friends
            raise CommandError(str(error)) from None
        payload = credentials.as_json()
        if options["json"]:
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(self.style.SUCCESS(f"Created index {payload['name']}."))
        self.stdout.write(f"URL:            {payload['url']}")
        self.stdout.write(f"Token:          {payload['token']}")
        self.stdout.write(f"Read-only token: {payload['readonly_token']}")
        self.stdout.write("The tokens are shown only now; only their hashes are stored.")
