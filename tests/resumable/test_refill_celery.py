"""Background refills end to end: a real Celery worker fetches a handle's next candidates
while its client is away, so the client's next page is served from the buffer."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from search.models import Index, ResumableQuery
from search.progress import Phase
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_next, resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert
from tests.resumable.processes import celery, database_url, require_redis, running, start
from tests.resumable.test_query_counts import NEXT_FROM_BUFFER

pytestmark = pytest.mark.celery

BROKER = "redis://127.0.0.1:6379/14"
DIM = 16
COUNT = 3_000


@pytest.fixture
def broker(settings: Any) -> Iterator[str]:
    """This process queues its tasks where the worker listens."""
    require_redis()
    before = current_app.conf.broker_write_url
    current_app.conf["broker_write_url"] = BROKER  # what publishing reads (broker_url is read once)
    settings.VECSITE_RESUMABLE_BACKGROUND_REFILL = True
    yield BROKER
    current_app.conf["broker_write_url"] = before


def scanned(handle: Any) -> int:
    return ResumableQuery.objects.get(uuid=handle).progress.dense.scanned


def test_it_refills_a_handle_in_the_background(
    transactional_db: None,
    make_index: Any,
    settings: Any,
    broker: str,
    tmp_path: Any,
) -> None:
    settings.VECSITE_EXACT_SEARCH_MAX_VECTORS = 100
    settings.VECSITE_RESUMABLE_ANN_MAX_FRACTION = 1.0
    index: Index = make_index("background", dimension=DIM).index
    rng = np.random.default_rng(9)
    vectors_upsert(
        index=index,
        namespace="",
        records=[RecordInput(id=f"v{i}", vector=rng.normal(size=DIM).tolist()) for i in range(COUNT)],
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "VECSITE_VAR_DIR": str(tmp_path),
        "VECSITE_EXACT_SEARCH_MAX_VECTORS": "100",
        "VECSITE_RESUMABLE_ANN_MAX_FRACTION": "1.0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    worker = start(celery("worker", "--concurrency", "1", "--pool", "solo"), env, tmp_path / "worker.log")
    with running(worker):
        first = resumable_query_start(index=index, spec=QuerySpec(vector=[0.5] * DIM, top_k=10, include=Include()))
        handle = first.handle
        assert handle is not None and scanned(handle) == 100  # the start's one HNSW scan
        for _ in range(2):  # past half of what the start's scan trusts: a refill is queued
            resumable_query_next(index=index, handle=handle, additional_k=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and scanned(handle) < 400:
            time.sleep(0.2)
        log = (tmp_path / "worker.log").read_text()
        assert scanned(handle) == 400, log[-3000:]  # four times the start's scan
        assert "refilled resumable query" in log
        # The worker's metrics, as a scrape adds them up (multi-process mode).
        refills = CollectorRegistry()
        MultiProcessCollector(refills, path=str(tmp_path))
        assert (
            refills.get_sample_value("vecsite_resumable_refill_duration_seconds_count", {"trigger": "background"}) or 0
        ) >= 1
        assert ResumableQuery.objects.get(uuid=handle).progress.dense.phase == Phase.ANN
        # The client comes back: its pages come from the buffer, no scan in its calls
        # (the next background refill, queued meanwhile, may merge rows that one of them
        # then reads and drops: rows nearer than its last result, which that scan missed).
        for _ in range(15):  # up to the 200 results that scan trusts
            with CaptureQueriesContext(connection) as captured:
                batch = resumable_query_next(index=index, handle=handle, additional_k=10)
            assert len(batch.records) == 10
            assert not [query for query in captured.captured_queries if "<=>" in query["sql"]]
            assert len(captured.captured_queries) <= NEXT_FROM_BUFFER + 3
