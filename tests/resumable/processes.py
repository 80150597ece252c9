"""Real Celery processes for the tests that need them: against the test database, with
Redis (or the filesystem) as broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def require_redis() -> None:
    if redis_is_up():
        return
    if os.environ.get("CI"):
        pytest.fail("CI must run this test against Redis at 127.0.0.1:6379, and Redis is not reachable")
    pytest.skip("no Redis at 127.0.0.1:6379")


def database_url() -> str:
    """The test database as a URL the child processes can use (socket or TCP)."""
    params = connection.get_connection_params()
    host = quote(str(params.get("host") or "127.0.0.1"), safe="")
    password = f":{quote(params['password'])}" if params.get("password") else ""
    return (
        f"postgres://{params.get('user', 'postgres')}{password}@{host}:{params.get('port') or 5432}/{params['dbname']}"
    )


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def celery(command: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "vecsite", command, "--loglevel", "INFO", *args]


@contextmanager
def running(*processes: subprocess.Popen[bytes]) -> Iterator[None]:
    """Stop the processes however the block ends."""
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
