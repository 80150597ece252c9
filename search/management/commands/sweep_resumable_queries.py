from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from search.services.sweeper import sweep_expired_resumable_queries


class Command(BaseCommand):
    help = "Delete resumable queries idle past their maxIdle, once (Celery beat does this periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        run = sweep_expired_resumable_queries(trigger="command")
        self.stdout.write(f"Expired {run.expired_count} resumable queries.")
