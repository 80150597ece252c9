"""Small helpers for starting resumable queries through the service in tests, and for
running service calls side by side on connections of their own."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from django.db import connection

from search.models import Index
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert


def start_handles(index: Index, *max_idles: int) -> list[uuid.UUID]:
    """Put one vector in the default namespace and start one query per maxIdle given."""
    vectors_upsert(index=index, namespace="", records=[RecordInput(id="a", vector=[1.0, 0.0])])
    handles = []
    for max_idle in max_idles:
        spec = QuerySpec(vector=[1.0, 0.0], top_k=1, include=Include())
        handle = resumable_query_start(index=index, spec=spec, max_idle=max_idle).handle
        assert handle is not None
        handles.append(handle)
    return handles


def side_by_side(*calls: Callable[[], object]) -> list[Exception]:
    """Run the calls at once, each in a thread with its own database connection; what
    they raised. A test orders them with events of its own."""
    errors: list[Exception] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors
