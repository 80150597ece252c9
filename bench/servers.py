"""Processes a benchmark starts beside itself and stops when done: a gunicorn serving the
API on a free port, and a Celery worker on the bench database with Redis as broker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.env import ROOT, database_url, free_port

CELERY_BROKER = "redis://127.0.0.1:6379/13"


def _stop(process: subprocess.Popen[Any], grace: float = 20) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONWARNINGS", "ignore::UserWarning")  # whitenoise: no collected static files
    return env


@contextlib.contextmanager
def http_server(token: str) -> Iterator[str]:
    """gunicorn (one sync worker) on a free loopback port, with the bench's environment;
    yields the API's base URL."""
    import httpx

    port = free_port()
    env = _child_env()
    env["VECSITE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "vecsite.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", "1", "--timeout", "600", "--log-level", "warning"]
    process = subprocess.Popen(argv, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {process.returncode}")
            try:
                response = httpx.post(f"{base}/info", headers={"Authorization": f"Bearer {token}"}, timeout=5)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        _stop(process)


def broker_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class CeleryWorker:
    """What the report says about the worker the bench ran."""

    broker: str
    log: Path
    pid: int | None = None
    ready_seconds: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        tail = self.log.read_text(errors="replace").splitlines()[-20:] if self.log.exists() else []
        return {
            "status": "ran",
            "broker": self.broker,
            "pid": self.pid,
            "ready_seconds": self.ready_seconds,
            "log": str(self.log),
            "log_tail": tail,
            **self.info,
        }


@contextlib.contextmanager
def celery_worker(broker: str, log: Path, *, concurrency: int = 1, timeout: float = 120) -> Iterator[CeleryWorker]:
    """A real `celery -A vecsite worker` on the bench database, `broker` its broker.

    The bench process must already use the same broker (CELERY_BROKER_URL set before
    Django started), so that tasks the service enqueues reach this worker. The queue is
    purged first (nothing stale from an earlier run), and the worker must answer a ping
    before the measurements start."""
    from vecsite.celery import app

    if not broker_reachable(broker):
        raise RuntimeError(f"no broker at {broker} (start Redis, or pass --no-celery)")
    if app.conf.broker_url != broker:
        raise RuntimeError(f"the bench process's broker is {app.conf.broker_url}, not {broker}")
    app.control.purge()
    env = _child_env()
    env["DATABASE_URL"] = database_url()
    env["CELERY_BROKER_URL"] = broker
    env.setdefault("LOG_LEVEL", "WARNING")
    celery = Path(sys.executable).with_name("celery")
    argv = [str(celery) if celery.exists() else sys.executable, *([] if celery.exists() else ["-m", "celery"])]
    argv += ["-A", "vecsite", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency)]
    argv += ["--hostname", f"bench-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    worker = CeleryWorker(broker=broker, log=log, pid=process.pid)
    try:
        name = f"bench-{os.getpid()}@{socket.gethostname()}"
        while not app.control.ping(destination=[name], timeout=1.0):
            if process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited with status {process.returncode}; see {log}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the Celery worker did not answer within {timeout:.0f} s; see {log}")
        worker.ready_seconds = round(time.monotonic() - started, 2)
        worker.info["registered_tasks"] = sorted((app.control.inspect([name]).registered() or {}).get(name, []))
        yield worker
    finally:
        _stop(process, grace=30)
        worker.info["exit_status"] = process.returncode
