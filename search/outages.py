"""Database outages and runaway statements: 503 with Retry-After on every path, never a
traceback or the driver's text, and the same process serves again once the database is
back (Django reconnects at the next request; docs/api.md#outages)."""

from __future__ import annotations

import logging

import psycopg
from django.conf import settings
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from search.api.errors import error_body, is_api

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "database unavailable"


def database_failure(error: BaseException) -> str | None:
    """What a client is told of a database error that is not its doing (the server is down
    or unreachable, or a statement ran past the timeout); None for any other error."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return None
    logger.warning("database failure: %s", error)  # the driver's text, for the operator only
    if isinstance(error.__cause__, psycopg.errors.QueryCanceled):
        return (
            f"the request ran past the database's statement timeout of {settings.VECSITE_DB_STATEMENT_TIMEOUT:g} s; "
            "try again, or ask for less"
        )
    return DATABASE_UNAVAILABLE


def retry_after() -> dict[str, str]:
    return {"Retry-After": str(settings.VECSITE_RETRY_AFTER)}


def outage_response(request: HttpRequest, message: str) -> HttpResponse:
    """The 503 of a path: the API's envelope (and /healthz's), the search page's JSON
    error for its endpoints, a plain text page elsewhere."""
    response: HttpResponse
    if is_api(request) or request.path == "/healthz":
        response = JsonResponse(error_body(message, 503), status=503)
    elif request.path.startswith("/search/"):
        text = f"Search is not available right now ({message}). Try again in a few seconds."
        response = JsonResponse({"error": "unavailable", "message": text, "errors": {}}, status=503)
    else:
        text = f"503 Service Unavailable: {message}. Try again in a few seconds.\n"
        response = HttpResponse(text, status=503, content_type="text/plain; charset=utf-8")
    for header, value in retry_after().items():
        response[header] = value
    return response
