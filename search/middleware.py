"""The API's edges: CORS, so the JS SDK works from a browser (docs/api.md#cors), and JSON on every error."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from search.api.errors import envelope_response, is_api


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
            response = self.get_response(request)
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
