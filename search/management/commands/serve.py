"""Serve the site with a Celery worker and beat, in the foreground; Ctrl-C stops all."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection


class Command(BaseCommand):
    help = (
        "Run the web server (gunicorn), a Celery worker and Celery beat together in the "
        "foreground. Ctrl-C (or SIGTERM) stops all three cleanly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", 8000)), help="Port (default $PORT or 8000)."
        )
        parser.add_argument(
            "--workers", type=int, help="gunicorn worker processes (default $VECSITE_WEB_WORKERS or 2)."
        )
        parser.add_argument(
            "--threads", type=int, help="Threads per gunicorn worker (default $VECSITE_WEB_THREADS or 8)."
        )
        parser.add_argument("--no-celery", action="store_true", help="Serve the site only.")
        parser.add_argument(
            "--prepare",
            action="store_true",
            help="First migrate and queue the demo corpus's load (ensure_demo), in this process: what "
            "`make run` does, sparing a database start and a Django start per step.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Start the database (embedded by default) before the children, and keep this
        # process's handle on it while they run.
        connection.ensure_connection()
        if options["prepare"]:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("ensure_demo", stdout=self.stdout._out, stderr=self.stderr._out)
        connection.close()
        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "--config",
                "python:vecsite.gunicorn_config",
                "vecsite.wsgi:application",
                "--bind",
                f"{options['host']}:{options['port']}",
                "--access-logfile",
                "-",
                *(["--workers", str(options["workers"])] if options["workers"] else []),
                *(["--threads", str(options["threads"])] if options["threads"] else []),
            ],
        }
        if not options["no_celery"]:
            commands["worker"] = [
                python,
                "-m",
                "celery",
                "-A",
                "vecsite",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
            ]
            commands["beat"] = [
                python,
                "-m",
                "celery",
                "-A",
                "vecsite",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ]
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # Each web and worker process embeds text on one core: with several processes on
        # a small machine, OpenBLAS threads only fight each other (measured 5x slower).
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir(env))
        processes = {name: subprocess.Popen(argv, env=env) for name, argv in commands.items()}  # noqa: S603 - our own argv
        self.stdout.write(self.style.SUCCESS(f"vecsite is serving on http://{options['host']}:{options['port']}/"))
        self.stdout.write(
            f"  API base URL {settings.VECSITE_PUBLIC_URL}/{settings.VECSITE_API_PREFIX}, "
            f"API docs at /api/docs/, admin at /admin/ (make a user with: .venv/bin/python manage.py createsuperuser)"
        )
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with status {process.returncode}; stopping the rest")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("stopped")


def metrics_dir(env: dict[str, str]) -> Path:
    """Where the web and Celery processes write their metrics for /metrics to add up
    (prometheus-client's multi-process mode): $PROMETHEUS_MULTIPROC_DIR, else
    var/prometheus. Emptied at every start, as the library requires: the counts of
    processes gone would otherwise be added to the new ones'."""
    folder = Path(env.get("PROMETHEUS_MULTIPROC_DIR") or settings.VAR_DIR / "prometheus")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
