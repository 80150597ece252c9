"""`manage.py serve` (gunicorn, as `make run` starts it) in a child process on a free port,
against the test database or any other, for the tests that need the real thing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    debug: bool

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]  # httpx's keywords, passed on


@contextmanager
def serving(database_url: str, log: Path, **environment: str) -> Iterator[Server]:
    """`manage.py serve --no-celery` with one worker; DEBUG as `environment` says (unset if
    not given, as a user's shell has it). Stopped however the block ends."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DEBUG"}
    env.update(DATABASE_URL=database_url, PORT=str(port), LOG_LEVEL="WARNING", **environment)
    argv = [sys.executable, "manage.py", "serve", "--no-celery", "--port", str(port), "--workers", "1"]
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url=f"http://127.0.0.1:{port}", log=log, debug=environment.get("DEBUG") == "1")
    try:
        _wait_until_serving(process, server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], server: Server, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with status {process.returncode}:\n{server.log.read_text()}")
        try:
            httpx.get(f"{server.url}/healthz", timeout=5)
            return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"serve did not answer within {timeout:.0f} s:\n{server.log.read_text()}")
        time.sleep(0.3)
