"""The faults the load suite injects while its clients run, each in a thread beside them:
a web worker killed, the Celery worker restarted, the database stopped and started.

Each opens a window in which one kind of failure is the expected answer (dropped
connections after a kill, 503 with Retry-After while the database is down), records
when things happened, and measures how long the service took to be whole again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.load_clients import Shared, Window
from bench.load_servers import CeleryWorker, Gunicorn

FAULTS = ("worker-kill", "celery-restart", "db-outage")


@dataclass
class Targets:
    web: Gunicorn
    celery: CeleryWorker
    db_outage_s: float
    recovery_grace_s: float
    database_is_embedded: bool


def inject(fault: str, targets: Targets, shared: Shared, delay: float) -> dict[str, Any]:
    time.sleep(delay)
    if fault == "worker-kill":
        return kill_web_worker(targets, shared)
    if fault == "celery-restart":
        return restart_celery(targets, shared)
    if fault == "db-outage":
        return database_outage(targets, shared)
    raise ValueError(f"unknown fault {fault!r}")


def kill_web_worker(targets: Targets, shared: Shared) -> dict[str, Any]:
    """SIGKILL one gunicorn worker mid-load: its in-flight requests drop (expected), the
    master forks a replacement, and handles carry on through the other workers: a handle
    started before the kill is drained to its end after it, every id exactly once."""
    probe = HandleProbe(shared)
    window = Window("dropped", shared.now())
    shared.windows.append(window)
    pid = targets.web.kill_worker()
    drained = probe.drain()
    replaced = targets.web.wait_replaced(pid)
    window.end = shared.now()
    return {
        "events": [{"what": f"SIGKILL web worker {pid}", "at": round(window.start, 3)}],
        "killed_pid": pid,
        "replacement_serving_after_s": round(replaced, 3),
        "handle_across_the_kill": drained,
        "back_at": window.end,
    }


class HandleProbe:
    """A handle started (and read from) before a fault and drained after it, one call at a
    time, so that no call of its own is in flight when the fault strikes."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.http = httpx.Client(timeout=60, headers={"Authorization": f"Bearer {shared.token}"})
        first = self.call(
            "resumable-query/" + shared.static_namespace, {"vector": [1.0] * shared.dimension, "topK": 10}
        )
        self.handle, self.seen = first["uuid"], [score["id"] for score in first["scores"]]
        self.seen += [score["id"] for score in self.call("resumable-query-next", self.next_body)]

    @property
    def next_body(self) -> dict[str, Any]:
        return {"uuid": self.handle, "additionalK": self.shared.page}

    def call(self, path: str, body: dict[str, Any], attempts: int = 20) -> Any:
        """POST, trying again on a dropped connection (only a call in flight is lost to a kill)."""
        for _ in range(attempts - 1):
            try:
                return (
                    self.http.post(f"{self.shared.base_url}/v1/{path}", json=body).raise_for_status().json()["result"]
                )
            except httpx.TransportError:
                time.sleep(0.2)
        return self.http.post(f"{self.shared.base_url}/v1/{path}", json=body).raise_for_status().json()["result"]

    def drain(self) -> dict[str, Any]:
        while page := self.call("resumable-query-next", self.next_body):
            self.seen += [score["id"] for score in page]
        self.call("resumable-query-end", {"uuid": self.handle})
        self.http.close()
        exactly_once = len(self.seen) == len(set(self.seen)) and set(self.seen) == self.shared.static_ids
        if not exactly_once:
            self.shared.violation(f"the handle drained across the fault returned {len(self.seen)} ids, not each once")
        return {"returned": len(self.seen), "every_vector_exactly_once": exactly_once}


def restart_celery(targets: Targets, shared: Shared) -> dict[str, Any]:
    """Stop the Celery worker and start a new one: background refills wait in the queue
    meanwhile and `next` refills by itself, so no request may fail."""
    at = shared.now()
    timings = targets.celery.restart()
    return {
        "events": [{"what": "Celery worker restart", "at": round(at, 3)}],
        **timings,
        "back_at": shared.now(),
    }


def database_outage(targets: Targets, shared: Shared) -> dict[str, Any]:
    """Stop the embedded PostgreSQL (fast shutdown), keep it down, start it again: meanwhile
    503 with Retry-After is the expected answer; afterwards the same processes must serve
    again, within the grace, without a restart."""
    if not targets.database_is_embedded:
        return {"events": [], "skipped": "DATABASE_URL names an external database: the suite cannot stop it"}
    from vecsite.embedded_db import start_server, stop_server

    window = Window("unavailable", shared.now())
    shared.windows.append(window)
    stop_server()
    stopped_at = shared.now()
    time.sleep(targets.db_outage_s)
    restart_at = shared.now()
    start_server()
    back_at = shared.now()
    # 503s may go on while the processes notice the database is back: within the grace.
    window.end = back_at + targets.recovery_grace_s
    return {
        "events": [
            {"what": "database stopped", "at": round(window.start, 3)},
            {"what": "database started", "at": round(restart_at, 3)},
        ],
        "stop_s": round(stopped_at - window.start, 3),
        "down_s": round(restart_at - stopped_at, 3),
        "start_s": round(back_at - restart_at, 3),
        "back_at": back_at,
    }
