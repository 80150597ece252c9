"""The API's edges: CORS, so the JS SDK works from a browser (docs/api.md#cors), with a
log line and metrics per request, and JSON on every error."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from search.api.auth import IndexAccess
from search.api.errors import envelope_response, is_api
from search.api.urls import IN_NAMESPACE, WITH_NAMESPACE, WITHOUT_NAMESPACE
from search.metrics import API_LATENCY, API_REQUESTS
from search.outages import database_failure, outage_response

api_logger = logging.getLogger("vecsite.api")
API_COMMANDS = {*WITHOUT_NAMESPACE, *WITH_NAMESPACE, *(f"{name}{IN_NAMESPACE}" for name in WITH_NAMESPACE)}


class ApiCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefix = f"/{settings.VECSITE_API_PREFIX}/"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
        else:
            # Measured here rather than in a middleware of its own: each middleware deepens
            # the stack a view parses its JSON body on, and so lowers the nesting it can take.
            started = time.perf_counter()
            response = self.get_response(request)
            record_api_request(request, response, time.perf_counter() - started)
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
        response["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, Upstash-Telemetry-Sdk, Upstash-Telemetry-Runtime, Upstash-Telemetry-Platform"
        )
        response["Access-Control-Max-Age"] = "86400"
        return response


class ApiErrorEnvelopeMiddleware:
    """Every error under /v1 is the API's envelope, whoever made it (docs/api.md#error-envelope):
    Django's 404 and 500 pages (HTML, and under DEBUG a traceback or the URL patterns), the
    400 of a bad Host header, ... The API's own views answer the envelope already."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            is_api(request)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return envelope_response(response.status_code)
        return response


def record_api_request(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    """The metrics of an API request (count and latency by command and status) and its one
    structured log line on the `vecsite.api` logger, a JSON object with the command,
    index, namespace, status and milliseconds. Nothing else of the request is logged:
    never its token, its body or its vectors."""
    command, namespace = api_route(request)
    status = str(response.status_code)
    API_REQUESTS.labels(command, status).inc()
    API_LATENCY.labels(command, status).observe(seconds)
    access = getattr(request, "auth", None)  # set by DRF once the token is accepted
    line = {
        "command": command,
        "index": access.index.name if isinstance(access, IndexAccess) else None,
        "namespace": namespace,
        "status": response.status_code,
        "ms": round(seconds * 1000, 1),
    }
    api_logger.info(json.dumps(line), extra={"api_request": line})


def api_route(request: HttpRequest) -> tuple[str, str | None]:
    """The command a request was routed to (`unknown` for no route, so a scanner cannot
    make up label values) and the namespace it named, if any."""
    match = request.resolver_match
    if match is None or match.url_name not in API_COMMANDS:
        return "unknown", None
    name = str(match.url_name).removesuffix(IN_NAMESPACE)
    namespace = match.kwargs.get("namespace", "") if name in WITH_NAMESPACE else None
    return name, namespace


class DatabaseOutageMiddleware:
    """A view that fails for want of the database (down, unreachable, or a statement past
    the timeout) answers 503 with Retry-After, never a traceback, with DEBUG on too
    (docs/api.md#outages). The API's views answer it themselves (search/api/errors.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        message = database_failure(exception)
        return outage_response(request, message) if message is not None else None
