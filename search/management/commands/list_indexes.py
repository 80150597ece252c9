from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from search.models import Index, Namespace, ResumableQuery


class Command(BaseCommand):
    help = "List indexes with their type, dimension, vector count and active resumable queries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print a JSON array instead of a table.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Subqueries, not joins: joining both relations multiplies rows, and a
        # Sum(distinct=True) over the product adds equal namespace counts only once.
        vectors = Coalesce(
            Subquery(
                Namespace.objects.filter(index=OuterRef("pk"))
                .values("index")
                .annotate(total=Sum("vector_count"))
                .values("total")
            ),
            0,
        )
        active_queries = Coalesce(
            Subquery(
                ResumableQuery.objects.filter(index=OuterRef("pk"), expires_at__gt=timezone.now())
                .values("index")
                .annotate(total=Count("pk"))
                .values("total")
            ),
            0,
        )
        indexes = Index.objects.annotate(vectors=vectors, active_queries=active_queries).values(
            "name", "index_type", "dimension", "similarity", "embedding_model", "vectors", "active_queries"
        )
        rows = [
            {
                "name": index["name"],
                "type": index["index_type"],
                "dimension": index["dimension"],
                "similarity": index["similarity"],
                "embedding_model": index["embedding_model"],
                "vectors": index["vectors"] or 0,
                "active_queries": index["active_queries"],
            }
            for index in indexes
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write("No indexes yet. Create one with: python manage.py create_index NAME --dimension D")
            return
        self.stdout.write(f"{'NAME':<24} {'TYPE':<7} {'DIM':>5} {'SIMILARITY':<12} {'VECTORS':>9} {'ACTIVE':>6}")
        for row in rows:
            self.stdout.write(
                f"{row['name']:<24} {row['type']:<7} {row['dimension'] or '-':>5} {row['similarity']:<12} "
                f"{row['vectors']:>9} {row['active_queries']:>6}"
            )
