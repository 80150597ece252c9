"""Idle expiry end to end: a real Celery worker and beat sweep a short-maxIdle query."""

from __future__ import annotations

import os
import time

import pytest

from search.models import ResumableQuery, SweepRun
from tests.resumable.helpers import start_handles
from tests.resumable.processes import celery, database_url, require_redis, running, start

pytestmark = pytest.mark.celery


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_it_sweeps_an_idle_query_with_real_worker_and_beat(transactional_db, make_index, tmp_path, broker):
    if broker == "redis":
        require_redis()
    index = make_index(dimension=2).index
    handle, keeper = start_handles(index, 1, 3600)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15" if broker == "redis" else "filesystem://localhost/",
        "VECSITE_VAR_DIR": str(tmp_path),
        "VECSITE_RESUMABLE_SWEEP_SECONDS": "1",
    }
    worker = start(celery("worker", "--concurrency", "1", "--pool", "solo"), env, tmp_path / "worker.log")
    beat = start(celery("beat", "--schedule", str(tmp_path / "beat-schedule")), env, tmp_path / "beat.log")
    with running(beat, worker):
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline and not SweepRun.objects.filter(trigger="beat", expired_count__gte=1).exists()
        ):
            time.sleep(0.5)  # the run is recorded after its deletions commit
        logs = (tmp_path / "worker.log").read_text() + (tmp_path / "beat.log").read_text()
        assert not ResumableQuery.objects.filter(uuid=handle).exists(), logs[-3000:]
        assert ResumableQuery.objects.filter(uuid=keeper).exists()
        assert SweepRun.objects.filter(trigger="beat", expired_count__gte=1).exists()
