"""Request bodies sent with ``Transfer-Encoding: chunked`` (no Content-Length).

gunicorn decodes the chunks and ends ``wsgi.input`` at the body's end (it says so with
``wsgi.input_terminated``), but Django and DRF read a body only as far as
``CONTENT_LENGTH``, and without one they read nothing: the request looked empty. This
WSGI wrapper reads such a body (one byte past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` at most, so
an oversized one is still refused with 413 by the usual check) and hands it on with its
length, as if the client had sent one.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_chunked_bodies(app: WSGIApp) -> WSGIApp:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            stream = environ["wsgi.input"]
            body = stream.read() if limit is None else stream.read(limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return application
