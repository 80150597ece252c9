"""`make run`'s demo load end to end: `ensure_demo` queues it on the filesystem broker and
returns, a real Celery worker loads the corpus chunk by chunk while the page answers, and
after a restart the load carries on where it stopped, embedding nothing twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from search.models import DemoLoad, Index
from search.services.indexes import index_delete
from tests.resumable.processes import ROOT, celery, database_url, running, start

pytestmark = pytest.mark.celery

CORPUS = 200


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def wait_for(condition: Any, seconds: float, what: str, log: Path) -> DemoLoad:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        load = DemoLoad.objects.first()
        if load is not None and condition(load):
            return load
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {seconds} s; worker log:\n{log.read_text()[-3000:]}")


def embedded_texts(folder: Path) -> float:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    labels = {"model": "ALL_MINILM_L6_V2", "purpose": "document"}
    return registry.get_sample_value("vecsite_embedding_texts_total", labels) or 0.0


def test_it_loads_the_demo_in_the_background_while_the_page_serves(transactional_db: None, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "filesystem://localhost/",  # as `make run`: folders under the var dir
        "VECSITE_VAR_DIR": str(tmp_path),
        "VECSITE_DEMO_LIMIT": str(CORPUS),
        "VECSITE_DEMO_CHUNK": "10",
    }
    try:
        queued = manage(env, "ensure_demo")
        assert "Created demo index demo" in queued
        assert "Loading the demo corpus into demo in the background (about 4,000 entries)" in queued
        assert list((tmp_path / "broker" / "queue").iterdir()), "the load is queued on the filesystem broker"
        visitor = Client()
        assert "Loading the corpus in the background: starting." in visitor.get("/").content.decode()

        first_log = tmp_path / "worker-1.log"
        first = start(celery("worker", "--concurrency", "1", "--pool", "solo"), env, first_log)
        with running(first):
            wait_for(lambda load: 0 < load.loaded < load.total, 120, "a first chunk", first_log)
            page = visitor.get("/")
            assert page.status_code == 200
            shown = re.search(r'data-loaded="(\d+)" data-total="(\d+)"', page.content.decode())
            assert shown is not None and 0 < int(shown[1]) < int(shown[2]) == CORPUS  # answered mid-load
            response = visitor.post("/search/start", {"q": "parse a JSON document"})
            assert response.status_code == 200 and response.json()["results"]
            wait_for(lambda load: load.loaded >= 50, 120, "five chunks", first_log)
        stopped = DemoLoad.objects.get()  # the worker finished its chunk and stopped
        assert not stopped.done

        # The next `make run`: ensure_demo queues the load again; a new worker carries on.
        again = manage(env, "ensure_demo")
        assert f"in the background ({stopped.loaded} of {CORPUS} entries)" in again
        metrics = tmp_path / "metrics"
        metrics.mkdir()
        second_log = tmp_path / "worker-2.log"
        second = start(
            celery("worker", "--concurrency", "1", "--pool", "solo"),
            {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
            second_log,
        )
        with running(second):
            done = wait_for(lambda load: load.done, 240, "the whole load", second_log)
        assert (done.loaded, done.total) == (CORPUS, CORPUS)
        assert Index.objects.get(name="demo").namespaces.get(name="").vector_count == CORPUS
        assert embedded_texts(metrics) == CORPUS - stopped.loaded  # nothing embedded twice
        # Later runs: nothing to do, nothing queued.
        assert manage(env, "ensure_demo") == f"Demo index demo is ready ({CORPUS} vectors).\n"
        assert 'id="demo-load"' not in visitor.get("/").content.decode()
    finally:
        for index in Index.objects.all():
            index_delete(index=index)
