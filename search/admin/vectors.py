"""Vectors and namespaces, read-only. Big namespaces page fast: counts come from the
namespace counters, never from COUNT(*) over search_vector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Substr
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from search.admin.common import (
    INDEX_PARAM,
    NAMESPACE_PARAM,
    NamespaceListFilter,
    ReadOnlyAdmin,
    dense_preview,
    int_param,
    json_preview,
    namespace_label,
    pretty_json,
    pretty_text,
    sparse_preview,
)
from search.models import Namespace, ResumableQuery, Vector

DATA_PREVIEW_CHARS = 80
# A search is counted up to this many matches; the page then says "10000 vectors".
SEARCH_COUNT_CAP = 10_000


class CountedPaginator(Paginator[Any]):
    """A Paginator whose count comes from elsewhere (here: the namespace counters)."""

    def __init__(self, *args: Any, count: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count()


def counted_vectors(*, index_id: int | None, namespace_id: int | None) -> int:
    """How many vectors the filters select, read from the namespace counters."""
    namespaces = Namespace.objects.all()
    if index_id is not None:
        namespaces = namespaces.filter(index_id=index_id)
    if namespace_id is not None:
        namespaces = namespaces.filter(pk=namespace_id)
    total: int = namespaces.aggregate(total=Coalesce(Sum("vector_count"), 0))["total"]
    return total


@admin.register(Vector)
class VectorAdmin(ReadOnlyAdmin[Vector]):
    list_display = ["key", "index", "namespace_name", "metadata_preview", "data_preview"]
    list_filter = ["index", NamespaceListFilter]
    list_select_related = ["index", "namespace"]
    search_fields = ["key"]
    search_help_text = 'An id prefix, or an exact id in double quotes: "doc-1".'
    ordering = ["-pk"]
    sortable_by = ()  # any other order would sort the whole namespace per page
    actions = None
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = readonly_fields = (
        "key",
        "index",
        "namespace_name",
        "pk",
        "embedding_preview",
        "sparse_preview",
        "metadata_pretty",
        "data_pretty",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Vector]:
        # The list needs neither the vectors nor a megabyte of data per row.
        return (
            super()
            .get_queryset(request)
            .defer("embedding", "sparse", "sparse_indices", "data")
            .annotate(data_head=Substr("data", 1, DATA_PREVIEW_CHARS + 1))
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Vector], search_term: str
    ) -> tuple[QuerySet[Vector], bool]:
        # Both forms use the (namespace, key text_pattern_ops) index.
        term = search_term.strip()
        if not term:
            return queryset, False
        if len(term) >= 2 and term.startswith('"') and term.endswith('"'):
            return queryset.filter(key=term[1:-1]), False
        return queryset.filter(key__startswith=term), False

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Vector],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator[Vector]:
        def count() -> int:
            if request.GET.get(SEARCH_VAR, "").strip():
                # Matches of an id prefix: an indexed range, counted only up to a cap.
                return queryset.order_by()[:SEARCH_COUNT_CAP].count()
            counted = counted_vectors(
                index_id=int_param(request, INDEX_PARAM), namespace_id=int_param(request, NAMESPACE_PARAM)
            )
            if counted <= per_page:
                # One page shows the whole queryset: make sure a drifted counter cannot
                # turn that into the whole table. This reads at most per_page + 1 rows.
                return queryset.order_by()[: per_page + 1].count()
            return counted

        return CountedPaginator(queryset, per_page, orphans, allow_empty_first_page, count=count)

    @admin.display(description="namespace", ordering="namespace__name")
    def namespace_name(self, obj: Vector) -> str:
        return namespace_label(obj.namespace)

    @admin.display(description="metadata")
    def metadata_preview(self, obj: Vector) -> str:
        return json_preview(obj.metadata)

    @admin.display(description="data")
    def data_preview(self, obj: Vector) -> str:
        head = getattr(obj, "data_head", None)
        return "—" if head is None else Truncator(head).chars(DATA_PREVIEW_CHARS)

    @admin.display(description="embedding")
    def embedding_preview(self, obj: Vector) -> str:
        return dense_preview(obj.embedding)

    @admin.display(description="sparse vector")
    def sparse_preview(self, obj: Vector) -> str:
        return sparse_preview(obj.sparse)

    @admin.display(description="metadata")
    def metadata_pretty(self, obj: Vector) -> SafeString:
        return pretty_json(obj.metadata)

    @admin.display(description="data")
    def data_pretty(self, obj: Vector) -> SafeString:
        return pretty_text(obj.data)


@admin.register(Namespace)
class NamespaceAdmin(ReadOnlyAdmin[Namespace]):
    list_display = ["index", "namespace_name", "vector_count", "active_queries", "created_at", "browse"]
    list_filter = ["index"]
    list_select_related = ["index"]
    search_fields = ["name"]
    fields = readonly_fields = ("index", "namespace_name", "vector_count", "active_queries", "created_at", "browse")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Namespace]:
        active = (
            ResumableQuery.objects.filter(namespace=OuterRef("pk"), expires_at__gt=timezone.now())
            .order_by()
            .values("namespace")
            .annotate(total=Count("pk"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(active_query_total=Coalesce(Subquery(active, output_field=IntegerField()), 0))
        )

    @admin.display(description="name", ordering="name")
    def namespace_name(self, obj: Namespace) -> str:
        return namespace_label(obj)

    @admin.display(description="active queries", ordering="active_query_total")
    def active_queries(self, obj: Namespace) -> int:
        total: int = obj.active_query_total  # type: ignore[attr-defined]  # annotated by get_queryset
        return total

    @admin.display(description="browse")
    def browse(self, obj: Namespace) -> SafeString:
        params = urlencode({INDEX_PARAM: obj.index_id, NAMESPACE_PARAM: obj.pk})
        return format_html(
            '<a href="{}?{}">vectors</a> · <a href="{}?{}">resumable queries</a>',
            reverse("admin:search_vector_changelist"),
            params,
            reverse("admin:search_resumablequery_changelist"),
            params,
        )
