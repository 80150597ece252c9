"""Pieces the admin pages share: read-only admins, durations, JSON and the namespace filter."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from search.models import Namespace

# RelatedFieldListFilter's parameter for `list_filter = ["index", ...]`.
INDEX_PARAM = "index__id__exact"
NAMESPACE_PARAM = "namespace"
# The namespace filter lists at most this many choices (pick an index first to narrow it).
NAMESPACE_CHOICES_MAX = 100
# Vectors on detail pages show this many leading values.
PREVIEW_VALUES = 16

ModelT = TypeVar("ModelT", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[ModelT]):
    """Browse only: rows here are written by the services, never by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def human_duration(seconds: float) -> str:
    """A compact duration: 42s, 3m 05s, 2h 07m, 3d 4h."""
    whole = round(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def compact_time(moment: datetime) -> str:
    """2026-11-22 00:08:12 in the current time zone: narrower than the admin's default."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def json_preview(value: Any, length: int = 80) -> str:
    if value is None:
        return "—"
    return Truncator(json_text(value)).chars(length)


def pretty_json(value: Any) -> SafeString:
    if value is None:
        return format_html("{}", "—")
    return format_html('<pre class="vecsite-pre">{}</pre>', json.dumps(value, ensure_ascii=False, indent=2))


def pretty_text(value: str | None) -> SafeString:
    if value is None:
        return format_html("{}", "—")
    return format_html('<pre class="vecsite-pre">{}</pre>', value)


def dense_preview(vector: Any) -> str:
    if vector is None:
        return "—"
    values = [float(x) for x in vector]
    head = ", ".join(f"{x:.6g}" for x in values[:PREVIEW_VALUES])
    more = ", …" if len(values) > PREVIEW_VALUES else ""
    return f"[{head}{more}] ({len(values)} dimensions)"


def sparse_preview(vector: Any) -> str:
    """pgvector's SparseVector, as {index: value, …} with the API's 0-based indices."""
    if vector is None:
        return "—"
    pairs = list(zip(vector.indices(), vector.values(), strict=True))
    head = ", ".join(f"{i}: {v:.6g}" for i, v in pairs[:PREVIEW_VALUES])
    more = ", …" if len(pairs) > PREVIEW_VALUES else ""
    return f"{{{head}{more}}} ({len(pairs)} non-zero)"


def namespace_label(namespace: Namespace) -> str:
    return namespace.name or "(default)"


def int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


class NamespaceListFilter(admin.SimpleListFilter):
    """Namespaces by name, narrowed to the chosen index (the stock filter would list
    every namespace and fetch each one's index separately)."""

    title = "namespace"
    parameter_name = NAMESPACE_PARAM

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        namespaces = Namespace.objects.select_related("index").order_by("index__name", "name")
        index_id = int_param(request, INDEX_PARAM)
        if index_id is not None:
            return [
                (str(ns.pk), namespace_label(ns)) for ns in namespaces.filter(index_id=index_id)[:NAMESPACE_CHOICES_MAX]
            ]
        return [(str(ns.pk), str(ns)) for ns in namespaces[:NAMESPACE_CHOICES_MAX]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            raise IncorrectLookupParameters(f"namespace must be a number, got {value!r}")
        return queryset.filter(namespace_id=int(value))
