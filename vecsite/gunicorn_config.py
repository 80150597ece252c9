"""gunicorn's configuration for vecsite: ``gunicorn -c python:vecsite.gunicorn_config vecsite.wsgi``.

``manage.py serve`` (``make run``), the load suite and the production command in the
README all start gunicorn with it; command-line flags still win over it.

The worker class and count were chosen from what ``python -m bench.loadtest`` measures
(README: *Serving*): the service is I/O bound (each request waits on Postgres), so
threads in a few processes serve more clients than as many single-request processes.

gunicorn answers a request it cannot parse (a header over ``limit_request_field_size``,
a NUL in a header, a bad request line) itself, before Django sees it, with an HTML page;
the writer below makes that answer the API's JSON envelope, on every path, since the
path is not known yet when parsing fails.
"""

from __future__ import annotations

import json
import os

from gunicorn import util

# Processes and threads: VECSITE_WEB_WORKERS and VECSITE_WEB_THREADS.
worker_class = "gthread"
workers = int(os.environ.get("VECSITE_WEB_WORKERS", "2"))
threads = int(os.environ.get("VECSITE_WEB_THREADS", "8"))
# A gthread worker's heartbeat comes from its main loop, so a slow request does not get
# the worker killed; the request's own statement timeout and work budget bound it.
timeout = 30
graceful_timeout = 5
keepalive = 5
# gunicorn's defaults, stated: the request line and each header field are bounded.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190


# gunicorn's words for its header limits, said plainly.
_HEADER_LIMITS = {
    "Error parsing headers: 'limit request headers fields size'": (
        f"headers: a header is longer than {limit_request_field_size} bytes"
    ),
    "Error parsing headers: 'limit request headers fields'": f"headers: more than {limit_request_fields} headers",
}


def write_json_error(sock: object, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error`` with the API's envelope instead of an HTML page."""
    message = _HEADER_LIMITS.get(mesg) or (f"{reason}: {mesg}" if mesg else reason)
    body = json.dumps({"error": message, "status": status_int}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_json_error


def post_worker_init(worker: object) -> None:
    """Say when a worker has loaded the application and takes requests (the load suite
    waits for this line after killing a worker)."""
    worker.log.info("worker %s serving", worker.pid)  # type: ignore[attr-defined]  # gunicorn's Worker, untyped
