"""Browser-facing views and the health check."""

from __future__ import annotations

import logging
import uuid

from django.contrib.sessions.backends.base import SessionBase
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST
from prometheus_client.exposition import choose_encoder

from search.errors import NotFound, ServiceError, TooManyActiveQueries, TooManyOwnQueries
from search.forms import HandleForm, SearchForm
from search.metrics import scrape_allowed, scrape_registry
from search.models import Index
from search.outages import DATABASE_UNAVAILABLE, outage_response
from search.services.demo_load import DemoProgress, demo_progress
from search.services.page import (
    PAGE_MAX_IDLE,
    PAGE_SIZE,
    page_index,
    page_search_end,
    page_search_next,
    page_search_start,
)
from search.services.shares import page_holder
from search.throttling import client_address, page_rate_limited

logger = logging.getLogger(__name__)

EXPIRED_MESSAGE = (
    f"This search has expired: it was not used for {PAGE_MAX_IDLE // 60} minutes, so the server let it go. "
    "Run it again to continue."
)
NOT_YOURS_MESSAGE = "This search does not exist, or belongs to another browser session."
SESSION_KEY = "search_page_handles"
# Handles one visitor may hold at once (several tabs); starting one more ends the oldest,
# so one visitor cannot use up the index's cap on active queries.
SESSION_MAX_HANDLES = 5


def healthz(request: HttpRequest) -> HttpResponse:
    """200 once the database answers; 503 `database unavailable` otherwise (what failed is
    logged, not shown: it names the server's address or socket)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("health check: %s", error)
        return outage_response(request, DATABASE_UNAVAILABLE)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for a scrape with VECSITE_METRICS_TOKEN or from loopback; in the
    OpenMetrics format when the scraper asks for it."""
    if not scrape_allowed(request):
        message = "Metrics need the VECSITE_METRICS_TOKEN bearer token, or a request from loopback."
        return _error("forbidden", message, status=403)
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(scrape_registry()), content_type=content_type)


@require_GET
@ensure_csrf_cookie
def search_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "search/page.html",
        {
            "form": SearchForm(),
            "page_size": PAGE_SIZE,
            "max_idle_minutes": PAGE_MAX_IDLE // 60,
            "load": demo_progress(),
        },
    )


@require_GET
def search_progress(request: HttpRequest) -> JsonResponse:
    """How far the demo corpus's load has got, for the page to show while it loads."""
    progress = demo_progress() or DemoProgress(loaded=0, total=0, done=False)
    return JsonResponse(progress.as_json())


@require_POST
@page_rate_limited
def search_start(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.POST)
    if not form.is_valid():
        return _form_errors(form)
    try:
        index = page_index()
        batch = page_search_start(
            index=index,
            text=form.cleaned_data["q"],
            filter=form.cleaned_data["filter"],
            holder=page_holder(address=client_address(request)),
        )
    except ServiceError as error:
        return _service_error(error)
    if batch.handle is not None and not batch.done:
        session_claim(request.session, index=index, handle=batch.handle)
    return JsonResponse(batch.as_json())


@require_POST
@page_rate_limited
def search_next(request: HttpRequest) -> HttpResponse:
    form = HandleForm(request.POST)
    if not form.is_valid():
        return _form_errors(form)
    handle = form.cleaned_data["handle"]
    if not session_owns(request.session, handle):
        return _error("not_found", NOT_YOURS_MESSAGE, status=404)
    try:
        index = page_index()
    except ServiceError as error:
        return _service_error(error)
    try:
        batch = page_search_next(index=index, handle=handle)
    except NotFound:
        session_release(request.session, handle)
        return _error("expired", EXPIRED_MESSAGE, status=410)
    if batch.done:
        session_release(request.session, handle)
    return JsonResponse(batch.as_json())


@require_POST
@page_rate_limited
def search_end(request: HttpRequest) -> HttpResponse:
    """Stop a search: the page calls it (as a beacon) when its visitor leaves."""
    form = HandleForm(request.POST)
    if not form.is_valid():
        return _form_errors(form)
    handle = form.cleaned_data["handle"]
    if not session_owns(request.session, handle):
        return _error("not_found", NOT_YOURS_MESSAGE, status=404)
    try:
        page_search_end(index=page_index(), handle=handle)
    except ServiceError:
        pass  # no usable index, so no search of its left to stop
    session_release(request.session, handle)
    return HttpResponse(status=204)


def _error(code: str, message: str, *, status: int, errors: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, "errors": errors or {}}, status=status)


def _form_errors(form: Form) -> JsonResponse:
    errors = {field: str(messages[0]) for field, messages in form.errors.items()}
    return _error("invalid", next(iter(errors.values())), status=400, errors=errors)


def _service_error(error: ServiceError) -> JsonResponse:
    if isinstance(error, TooManyOwnQueries):
        return _error(
            "busy", "You have too many searches open. Close some tabs, or try again in a few minutes.", status=429
        )
    if isinstance(error, TooManyActiveQueries):
        return _error("busy", "Too many searches are open on the server right now. Try again in a minute.", status=429)
    # What is left is about the page's index (missing, or without a model): the server's
    # problem, not the visitor's.
    return _error("unavailable", f"Search is not available: {error.message}", status=503)


def session_claim(session: SessionBase, *, index: Index, handle: uuid.UUID) -> None:
    """Record that this session owns the handle. Past SESSION_MAX_HANDLES, the session's
    oldest searches are stopped, so one visitor cannot use up the index's cap."""
    handles = [*session.get(SESSION_KEY, []), str(handle)]
    session[SESSION_KEY] = handles[-SESSION_MAX_HANDLES:]
    for old in handles[:-SESSION_MAX_HANDLES]:
        page_search_end(index=index, handle=uuid.UUID(old))


def session_owns(session: SessionBase, handle: uuid.UUID) -> bool:
    return str(handle) in session.get(SESSION_KEY, [])


def session_release(session: SessionBase, handle: uuid.UUID) -> None:
    handles = session.get(SESSION_KEY, [])
    if str(handle) in handles:
        session[SESSION_KEY] = [value for value in handles if value != str(handle)]
