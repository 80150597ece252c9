"""Active resumable queries: read-only state, filters, and stopping (as if the client ended them)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator

from search.admin.common import (
    NamespaceListFilter,
    ReadOnlyAdmin,
    compact_time,
    dense_preview,
    human_duration,
    namespace_label,
    sparse_preview,
)
from search.models import ResumableQuery, ResumableQueryQuerySet
from search.progress import Phase, SideProgress
from search.services.resumable import resumable_queries_stop


class QueryStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired, not yet swept")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ResumableQuery]) -> QuerySet[ResumableQuery]:
        # The admin's queryset comes from the model's manager, so it speaks its vocabulary.
        handles = cast(ResumableQueryQuerySet, queryset)
        if self.value() == "active":
            return handles.active()
        if self.value() == "expired":
            return handles.expired()
        return queryset


QUERY_FIELDS = (
    "uuid",
    "index",
    "holder",
    "namespace_name",
    "kind",
    "query_text",
    "query_vector_preview",
    "query_sparse_preview",
    "filter",
    "top_k",
    "includes",
    "weighting_strategy",
    "fusion_algorithm",
)
LIFETIME_FIELDS = ("state", "created_at", "last_used_at", "idle_for", "expires_at", "expires_in", "max_idle")
PROGRESS_FIELDS = ("returned_count", "dense_progress", "sparse_progress")


def side_summary(side: SideProgress) -> str:
    """One side's state in words, for an operator."""
    if side.phase == Phase.ANN:
        phase = f"ANN phase (HNSW scans; the last of {side.scanned:,} rows)"
    elif side.exhausted:
        phase = "exact phase, nothing beyond the buffer"
    else:
        phase = f"exact phase (keyset chunks; the last of {side.scanned:,} rows)"
    horizon = f", fetched up to distance {side.horizon.distance:.6g}" if side.horizon else ""
    pending = ", a background refill is pending" if side.refill_requested else ""
    return f"{side.buffered:,} candidates buffered; {phase}{horizon}{pending}"


def plural(count: int) -> str:
    return f"{count} resumable {'query' if count == 1 else 'queries'}"


@admin.register(ResumableQuery)
class ResumableQueryAdmin(ReadOnlyAdmin[ResumableQuery]):
    list_display = [
        "uuid",
        "index",
        "namespace_name",
        "query",
        "filter_preview",
        "topk",
        "returned",
        "created",
        "last_used",
        "idle_for",
        "expires_in",
        "max_idle_display",
        "state",
    ]
    list_filter = ["index", NamespaceListFilter, QueryStateFilter]
    list_select_related = ["index", "namespace"]
    search_fields = ["uuid"]
    search_help_text = "A whole uuid, or its start."
    actions = ["stop_queries"]
    fieldsets = [
        ("Query", {"fields": QUERY_FIELDS}),
        ("Lifetime", {"fields": LIFETIME_FIELDS}),
        ("Progress", {"fields": PROGRESS_FIELDS}),
    ]
    readonly_fields = (*QUERY_FIELDS, *LIFETIME_FIELDS, *PROGRESS_FIELDS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResumableQuery]:
        # The list never shows the query vectors (up to thousands of floats each).
        return super().get_queryset(request).defer("query_vector", "query_sparse")

    def has_stop_permission(self, request: HttpRequest) -> bool:
        # Stopping deletes the handle, so it takes the delete permission (the stock
        # delete is switched off: a stop must go through the service).
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ResumableQuery], search_term: str
    ) -> tuple[QuerySet[ResumableQuery], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(uuid=uuid.UUID(term)), False
        except ValueError:
            return super().get_search_results(request, queryset, term)

    # --- columns ---------------------------------------------------------------------------

    @admin.display(description="namespace", ordering="namespace__name")
    def namespace_name(self, obj: ResumableQuery) -> str:
        return namespace_label(obj.namespace)

    @admin.display(description="query", ordering="kind")
    def query(self, obj: ResumableQuery) -> str:
        if obj.kind == ResumableQuery.Kind.TEXT:
            return f"text: {Truncator(obj.query_text).chars(40)}"
        return "vector"

    @admin.display(description="filter", ordering="filter")
    def filter_preview(self, obj: ResumableQuery) -> str:
        return Truncator(obj.filter).chars(60) if obj.filter else "—"

    @admin.display(description="topK", ordering="top_k")
    def topk(self, obj: ResumableQuery) -> int:
        return obj.top_k

    @admin.display(description="returned", ordering="returned_count")
    def returned(self, obj: ResumableQuery) -> int:
        return obj.returned_count

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: ResumableQuery) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj: ResumableQuery) -> str:
        return compact_time(obj.last_used_at)

    @admin.display(description="idle for", ordering="-last_used_at")
    def idle_for(self, obj: ResumableQuery) -> str:
        return human_duration((timezone.now() - obj.last_used_at).total_seconds())

    @admin.display(description="expires in", ordering="expires_at")
    def expires_in(self, obj: ResumableQuery) -> str:
        left = (obj.expires_at - timezone.now()).total_seconds()
        return human_duration(left) if left > 0 else f"expired {human_duration(left)} ago"

    @admin.display(description="maxIdle", ordering="max_idle")
    def max_idle_display(self, obj: ResumableQuery) -> str:
        return human_duration(obj.max_idle)

    @admin.display(description="state")
    def state(self, obj: ResumableQuery) -> str:
        return "expired, not yet swept" if obj.is_expired else "active"

    @admin.display(description="query vector")
    def query_vector_preview(self, obj: ResumableQuery) -> str:
        return dense_preview(obj.query_vector)

    @admin.display(description="query sparse vector")
    def query_sparse_preview(self, obj: ResumableQuery) -> str:
        return sparse_preview(obj.query_sparse)

    @admin.display(description="dense side")
    def dense_progress(self, obj: ResumableQuery) -> str:
        return side_summary(obj.progress.dense) if obj.query_vector is not None else "—"

    @admin.display(description="sparse side")
    def sparse_progress(self, obj: ResumableQuery) -> str:
        return side_summary(obj.progress.sparse) if obj.query_sparse is not None else "—"

    @admin.display(description="includes")
    def includes(self, obj: ResumableQuery) -> str:
        parts = [
            name
            for name, on in (
                ("vectors", obj.include_vectors),
                ("metadata", obj.include_metadata),
                ("data", obj.include_data),
            )
            if on
        ]
        return ", ".join(parts) or "ids and scores only"

    # --- stopping --------------------------------------------------------------------------

    @admin.action(description="Stop selected queries", permissions=["stop"])
    def stop_queries(self, request: HttpRequest, queryset: ResumableQueryQuerySet) -> None:
        stopped = resumable_queries_stop(queries=queryset)
        self.message_user(request, f"Stopped {plural(stopped)}.", messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<uuid:object_id>/stop/",
                self.admin_site.admin_view(self.stop_view),
                name="search_resumablequery_stop",
            ),
            *super().get_urls(),
        ]

    def stop_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_stop_permission(request):
            raise PermissionDenied
        stopped = resumable_queries_stop(queries=ResumableQuery.objects.filter(uuid=object_id))
        if stopped:
            self.message_user(request, f"Stopped resumable query {object_id}.", messages.SUCCESS)
        else:
            self.message_user(request, f"Resumable query {object_id} had already ended.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:search_resumablequery_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {"title": "Resumable queries", **(extra_context or {})})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_stop": self.has_stop_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)
