"""One error envelope for every failure: {"error": "<message naming the field>", "status": N}."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from search.errors import ServiceError

logger = logging.getLogger(__name__)


def error_body(message: str, status: int) -> dict[str, Any]:
    return {"error": message, "status": status}


def first_error(detail: Any, path: str = "") -> str:
    """Flatten DRF's nested error detail to its first message, prefixed by the field path."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                return first_error(value, path)
            # ListField/DictField errors are keyed by position: ids[0], not ids.0.
            child = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
            return first_error(value, child)
    if isinstance(detail, list):
        for position, value in enumerate(detail):
            if not value:
                continue
            if isinstance(value, (dict, list)):
                return first_error(value, f"{path}[{position}]")
            return first_error(value, path)
        return f"{path}: invalid" if path else "invalid request"
    message = str(detail)
    return f"{path}: {message}" if path else message


def upstash_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    from search.outages import database_failure, retry_after  # it answers with this module's envelope

    outage = database_failure(exc)
    if outage is not None:
        return Response(error_body(outage, 503), status=503, headers=retry_after())
    if isinstance(exc, ServiceError):
        return Response(error_body(str(exc), exc.status), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(f"body: {exc or 'too large'}", 413), status=413)
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body(f"body: malformed JSON ({exc.detail})", 400), status=400)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return Response(error_body("Unauthorized: Invalid auth token", 401), status=401)
    if isinstance(exc, exceptions.APIException):
        message = first_error(exc.detail)
        return Response(error_body(message, exc.status_code), status=exc.status_code)
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("internal server error", 500), status=500)


def is_api(request: HttpRequest) -> bool:
    prefix = f"/{settings.VECSITE_API_PREFIX}"
    return request.path == prefix or request.path.startswith(f"{prefix}/")


# What an error the API's views did not make says (Django's 404 for an unknown route, ...).
STATUS_MESSAGES = {404: "no such command or route", 500: "internal server error"}


def envelope_response(status: int) -> JsonResponse:
    """The envelope of a bare status: `no such command or route`, `method not allowed`, ..."""
    try:
        message = STATUS_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()
    except ValueError:  # a status without a name
        message = "error"
    return JsonResponse(error_body(message, status), status=status)
