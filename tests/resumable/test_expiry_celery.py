"""Idle expiry end to end: a real Celery worker and beat sweep a short-maxIdle query."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from search.models import ResumableQuery, SweepRun
from tests.resumable.helpers import start_handles

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.celery


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def database_url() -> str:
    """The test database as a URL the child processes can use (socket or TCP)."""
    params = connection.get_connection_params()
    host = quote(str(params.get("host") or "127.0.0.1"), safe="")
    password = f":{quote(params['password'])}" if params.get("password") else ""
    return (
        f"postgres://{params.get('user', 'postgres')}{password}@{host}:{params.get('port') or 5432}/{params['dbname']}"
    )


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)  # noqa: S603


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_it_sweeps_an_idle_query_with_real_worker_and_beat(transactional_db, make_index, tmp_path, broker):
    if broker == "redis" and not redis_is_up():
        if os.environ.get("CI"):
            pytest.fail("CI must run this test against Redis at 127.0.0.1:6379, and Redis is not reachable")
        pytest.skip("no Redis at 127.0.0.1:6379")
    index = make_index(dimension=2).index
    handle, keeper = start_handles(index, 1, 3600)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15" if broker == "redis" else "filesystem://localhost/",
        "VECSITE_VAR_DIR": str(tmp_path),
        "VECSITE_RESUMABLE_SWEEP_SECONDS": "1",
    }
    python = sys.executable
    worker = start(
        [
            python,
            "-m",
            "celery",
            "-A",
            "vecsite",
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--pool",
            "solo",
        ],
        env,
        tmp_path / "worker.log",
    )
    beat = start(
        [
            python,
            "-m",
            "celery",
            "-A",
            "vecsite",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        env,
        tmp_path / "beat.log",
    )
    try:
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline and not SweepRun.objects.filter(trigger="beat", expired_count__gte=1).exists()
        ):
            time.sleep(0.5)  # the run is recorded after its deletions commit
        logs = (tmp_path / "worker.log").read_text() + (tmp_path / "beat.log").read_text()
        assert not ResumableQuery.objects.filter(uuid=handle).exists(), logs[-3000:]
        assert ResumableQuery.objects.filter(uuid=keeper).exists()
        assert SweepRun.objects.filter(trigger="beat", expired_count__gte=1).exists()
    finally:
        for process in (beat, worker):
            process.terminate()
        for process in (beat, worker):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
