"""The statement timeout of the web processes (docs/api.md#outages).

Set on each connection as it opens, and only in processes that serve requests (wsgi.py
and asgi.py call `limit_web_statements`): management commands and Celery tasks (an HNSW
build, a bulk load, a refill of a large namespace) may take longer than any request should.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created


def _set_statement_timeout(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    milliseconds = round(settings.VECSITE_DB_STATEMENT_TIMEOUT * 1000)
    if milliseconds > 0 and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{milliseconds}ms"])


def limit_web_statements() -> None:
    connection_created.connect(_set_statement_timeout, dispatch_uid="vecsite.statement-timeout")
