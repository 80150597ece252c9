"""The processes the load suite runs against and breaks: a multi-worker gunicorn, a Celery
worker it can restart, and the embedded PostgreSQL it can stop and start again.

Each child gets the database as DATABASE_URL, so none of them starts (or restarts) the
embedded server by itself: while the suite holds it stopped, it stays stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.env import ROOT, free_port
from bench.servers import _stop


@dataclass(frozen=True)
class WebConfig:
    """gunicorn's worker class, processes and threads per process, e.g. ``gthread:2x8``."""

    worker_class: str = "gthread"
    workers: int = 2
    threads: int = 8

    @classmethod
    def parse(cls, text: str) -> WebConfig:
        match = re.fullmatch(r"(sync|gthread):(\d+)(?:x(\d+))?", text.strip())
        if not match:
            raise ValueError(f"a web configuration is CLASS:WORKERS[xTHREADS] (sync or gthread), got {text!r}")
        worker_class, workers, threads = match.groups()
        return cls(worker_class, int(workers), int(threads or 1) if worker_class == "gthread" else 1)

    def __str__(self) -> str:
        return f"{self.worker_class}:{self.workers}" + (f"x{self.threads}" if self.worker_class == "gthread" else "")


def child_env(database_url: str, broker: str, var_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            "PYTHONWARNINGS": "ignore::UserWarning",  # whitenoise: no collected static files
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "VECSITE_VAR_DIR": str(var_dir),
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "OPENBLAS_NUM_THREADS": "1",
            **(extra or {}),
        }
    )
    return env


def _wait_for_line(log: Path, pattern: str, since: int, process: subprocess.Popen[bytes], timeout: float) -> float:
    """Seconds until a line matching `pattern` appears in `log` after byte `since`."""
    started = time.monotonic()
    regex = re.compile(pattern)
    while True:
        with log.open("rb") as handle:
            handle.seek(since)
            if regex.search(handle.read().decode(errors="replace")):
                return time.monotonic() - started
        if process.poll() is not None:
            raise RuntimeError(f"{process.pid} exited with status {process.returncode}; see {log}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"no {pattern!r} in {log} within {timeout:.0f} s")
        time.sleep(0.05)


class Gunicorn:
    """gunicorn with vecsite's configuration (vecsite/gunicorn_config.py) on a free port."""

    def __init__(self, config: WebConfig, env: dict[str, str], log: Path) -> None:
        self.config, self.log = config, log
        self.port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "--config", "python:vecsite.gunicorn_config"]
        argv += ["--bind", f"127.0.0.1:{self.port}", "--worker-class", config.worker_class]
        argv += ["--workers", str(config.workers), "--threads", str(config.threads), "--log-level", "info"]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            self.process = subprocess.Popen([*argv, "vecsite.wsgi:application"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> float:
        """Seconds until every worker has loaded the application."""
        started = time.monotonic()
        while self.serving_workers() < self.config.workers:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}; see {self.log}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"gunicorn's workers were not all serving within {timeout:.0f} s; see {self.log}")
            time.sleep(0.1)
        return time.monotonic() - started

    def worker_pids(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def serving_workers(self) -> int:
        """Live workers that have logged that they serve (gunicorn_config.post_worker_init)."""
        text = self.log.read_text(errors="replace")
        serving = {int(pid) for pid in re.findall(r"worker (\d+) serving", text)}
        return len(serving & set(self.worker_pids()))

    def kill_worker(self) -> int:
        """SIGKILL one worker, as the kernel's OOM killer would; returns its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_replaced(self, killed: int, timeout: float = 60) -> float:
        """Seconds until the master has a full set of serving workers again, `killed` gone."""
        started = time.monotonic()
        while killed in self.worker_pids() or self.serving_workers() < self.config.workers:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"gunicorn did not replace worker {killed} within {timeout:.0f} s")
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        _stop(self.process)


class CeleryWorker:
    """A real ``celery -A vecsite worker`` (as ``make run`` starts it) that can be restarted."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.argv = [sys.executable, "-m", "celery", "-A", "vecsite", "worker", "--loglevel", "INFO"]
        self.argv += ["--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.argv += ["--hostname", f"loadtest-{os.getpid()}@%h"]
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        with self.log.open("a") as out:
            return subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, since: int = 0, timeout: float = 120) -> float:
        return _wait_for_line(self.log, r"\bready\.", since, self.process, timeout)

    def restart(self) -> dict[str, float]:
        """Stop the worker (warm shutdown: it finishes its task) and start a new one."""
        started = time.monotonic()
        _stop(self.process, grace=30)
        stopped = time.monotonic() - started
        since = self.log.stat().st_size
        self.process = self._start()
        ready = self.wait_ready(since)
        return {"stop_s": round(stopped, 3), "start_to_ready_s": round(ready, 3)}

    def stop(self) -> None:
        _stop(self.process, grace=30)
