"""Processes a benchmark starts beside itself and stops when done: a gunicorn serving the
API on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.env import ROOT, free_port


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
