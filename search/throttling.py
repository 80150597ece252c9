"""The search page's rate limit per client address (docs/api.md#fair-shares): DRF's
throttle, a sliding window of each address's request times, kept in the shared cache
(a database table) so that every web process counts together."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's, or with VECSITE_TRUSTED_PROXIES the one the
    nearest trusted proxy saw (a client's own X-Forwarded-For counts for nothing)."""
    return BaseThrottle().get_ident(Request(request))


class PageRateThrottle(SimpleRateThrottle):
    scope = "search-page"

    def __init__(self) -> None:
        self.cache = caches["shared"]
        super().__init__()

    def get_rate(self) -> str | None:
        return settings.VECSITE_PAGE_RATE or None  # read per request, as settings may change in tests

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def page_rate_limited(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Answer 429 with Retry-After, in the page's JSON error shape, to an address past
    VECSITE_PAGE_RATE."""

    @wraps(view)
    def limited(request: HttpRequest) -> HttpResponse:
        throttle = PageRateThrottle()
        if throttle.allow_request(Request(request), None):  # type: ignore[arg-type]  # DRF's stubs want a view; the throttle never reads it
            return view(request)
        wait = max(1, math.ceil(throttle.wait() or 1))
        message = f"Too many searches from your address; try again in {wait} s."
        response = JsonResponse({"error": "rate_limited", "message": message, "errors": {}}, status=429)
        response["Retry-After"] = str(wait)
        return response

    return limited
