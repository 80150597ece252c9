"""Deleting an index or a namespace while one of its handles is being stopped: the delete
waits for the stop instead of deadlocking with it. (CI saw the deadlock when a browser
test's teardown deleted the demo index as its closing page stopped its search.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import transaction

from search.models import BufferedCandidate, Index, Namespace, ResumableQuery
from search.services.indexes import index_delete
from search.services.namespaces import namespace_delete
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert
from tests.resumable.helpers import side_by_side

pytestmark = pytest.mark.django_db(transaction=True)

DELETES: dict[str, Callable[[Index], None]] = {
    "index": lambda index: index_delete(index=index),
    "namespace": lambda index: namespace_delete(index=index, name="shelf"),
}


@pytest.mark.parametrize("deleted", DELETES)
def test_a_delete_waits_for_a_stop_of_one_of_its_handles(make_index, deleted):
    index = make_index(f"delete-{deleted}").index
    records = [RecordInput(id=f"v{i}", vector=[1.0, i / 300]) for i in range(300)]
    vectors_upsert(index=index, namespace="shelf", records=records)
    spec = QuerySpec(namespace="shelf", vector=[1.0, 0.0], top_k=1, include=Include())
    handle = resumable_query_start(index=index, spec=spec).handle
    assert handle is not None
    assert BufferedCandidate.objects.filter(query_id=handle).exists()
    stop_holds_its_handle = threading.Event()

    def stop() -> None:  # as resumable_query_end does: the handle's row first, then the delete
        with transaction.atomic():
            query = ResumableQuery.objects.select_for_update().get(uuid=handle)
            stop_holds_its_handle.set()
            time.sleep(0.5)  # the delete is under way meanwhile
            query.delete()

    def delete() -> None:
        stop_holds_its_handle.wait(timeout=5)
        DELETES[deleted](Index.objects.get(pk=index.pk))

    assert side_by_side(stop, delete) == []
    assert not ResumableQuery.objects.filter(uuid=handle).exists()
    assert not Namespace.objects.filter(index_id=index.pk, name="shelf").exists()
