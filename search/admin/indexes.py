"""Indexes: create (tokens shown once), rotate tokens, counts, cap on active queries, delete."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from search.admin.common import INDEX_PARAM
from search.errors import ServiceError
from search.models import Index, Namespace, ResumableQuery
from search.services.indexes import (
    IndexCredentials,
    IndexSpec,
    index_check,
    index_create,
    index_delete,
    index_rotate_tokens,
)

# New tokens wait here for exactly one display, then are removed from the session.
TOKENS_SESSION_KEY = "search_admin_new_tokens"

CREATE_FIELDS = [
    "name",
    "index_type",
    "dimension",
    "similarity",
    "embedding_model",
    "sparse_embedding_model",
    "max_active_queries",
    "exact_resumable",
]


# Where a service error about a field shows on the form (the API calls the type "type").
FORM_FIELD_OF = {"type": "index_type", **{name: name for name in CREATE_FIELDS}}


class IndexCreateForm(forms.ModelForm[Index]):
    """Validates with every rule index_create applies (dimension, models, name), so each
    shows as an error on its field; the admin's save_model then makes the index."""

    spec: IndexSpec | None = None

    class Meta:
        model = Index
        fields = CREATE_FIELDS

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # as above  # the model's own checks: a valid, unused name, choices
        if self.errors:
            return
        data = self.cleaned_data
        try:
            self.spec = index_check(
                IndexSpec(
                    name=data["name"],
                    dimension=data["dimension"],
                    similarity=data["similarity"],
                    index_type=data["index_type"],
                    embedding_model=data["embedding_model"],
                    sparse_embedding_model=data["sparse_embedding_model"],
                    max_active_queries=data["max_active_queries"],
                    exact_resumable=data["exact_resumable"],
                )
            )
        except ServiceError as error:
            self.add_error(FORM_FIELD_OF.get(error.field or ""), error.message)


def remember_tokens(request: HttpRequest, credentials: list[IndexCredentials], reason: str) -> None:
    request.session[TOKENS_SESSION_KEY] = {
        "reason": reason,
        "indexes": [item.as_json() | {"pk": item.index.pk} for item in credentials],
    }


def _count_subquery(queryset: QuerySet[Any], aggregate: Any) -> Coalesce:
    grouped = queryset.order_by().values("index").annotate(total=aggregate).values("total")
    return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)


def _changelist_link(model: str, label: object, **params: str | int) -> SafeString:
    url = reverse(f"admin:search_{model}_changelist") + "?" + urlencode(params)
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Index)
class IndexAdmin(admin.ModelAdmin[Index]):
    list_display = [
        "name",
        "index_type",
        "dimension",
        "similarity",
        "embedding_model",
        "vectors",
        "namespaces",
        "active_queries",
        "max_active_queries",
    ]
    list_filter = ["index_type", "similarity"]
    search_fields = ["name"]
    actions = ["rotate_tokens"]
    counts_fieldset = ("Contents", {"fields": ["vectors", "namespaces", "active_queries"]})

    def get_queryset(self, request: HttpRequest) -> QuerySet[Index]:
        # Vectors come from the namespace counters, never COUNT(*) over search_vector.
        namespaces = Namespace.objects.filter(index=OuterRef("pk"))
        active = ResumableQuery.objects.filter(index=OuterRef("pk"), expires_at__gt=timezone.now())
        return (
            super()
            .get_queryset(request)
            .annotate(
                vector_total=_count_subquery(namespaces, Sum("vector_count")),
                namespace_total=_count_subquery(namespaces, Count("pk")),
                active_query_total=_count_subquery(active, Count("pk")),
            )
        )

    @admin.display(description="vectors", ordering="vector_total")
    def vectors(self, obj: Index) -> SafeString:
        total: int = obj.vector_total  # type: ignore[attr-defined]  # annotated by get_queryset
        return _changelist_link("vector", f"{total:,}", **{INDEX_PARAM: obj.pk})

    @admin.display(description="namespaces", ordering="namespace_total")
    def namespaces(self, obj: Index) -> SafeString:
        total: int = obj.namespace_total  # type: ignore[attr-defined]  # annotated by get_queryset
        return _changelist_link("namespace", total, **{INDEX_PARAM: obj.pk})

    @admin.display(description="active queries", ordering="active_query_total")
    def active_queries(self, obj: Index) -> SafeString:
        params: dict[str, str | int] = {INDEX_PARAM: obj.pk, "state": "active"}
        return _changelist_link("resumablequery", obj.active_query_total, **params)  # type: ignore[attr-defined]  # annotated by get_queryset

    # --- the form: everything on creation, only the cap afterwards ------------------------

    def get_form(self, request: HttpRequest, obj: Index | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = IndexCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Index | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": CREATE_FIELDS})]
        return [
            (None, {"fields": ["name", "index_type", "dimension", "similarity", "created_at"]}),
            ("Embedding", {"fields": ["embedding_model", "sparse_embedding_model"]}),
            self.counts_fieldset,
            ("Resumable queries", {"fields": ["max_active_queries", "exact_resumable"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Index | None = None) -> list[str]:
        if obj is None:
            return []
        return [
            "name",
            "index_type",
            "dimension",
            "similarity",
            "embedding_model",
            "sparse_embedding_model",
            "created_at",
            "vectors",
            "namespaces",
            "active_queries",
        ]

    def save_model(self, request: HttpRequest, obj: Index, form: forms.ModelForm[Index], change: bool) -> None:
        if change:
            # The resumable-query settings are the editable ones; no other column is written.
            obj.save(update_fields=["max_active_queries", "exact_resumable"])
            return
        # The index is made by the service (tokens, HNSW index); `obj` becomes that row.
        # Its tokens are kept for exactly one display.
        assert isinstance(form, IndexCreateForm) and form.spec is not None
        credentials = index_create(form.spec)
        obj.pk = credentials.index.pk
        obj.refresh_from_db()
        remember_tokens(request, [credentials], reason="created")

    def response_add(self, request: HttpRequest, obj: Index, post_url_continue: str | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:search_index_tokens"))

    # --- deleting goes through index_delete (it drops the index's HNSW index) -------------

    def delete_model(self, request: HttpRequest, obj: Index) -> None:
        index_delete(index=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Index]) -> None:
        for index in queryset:
            index_delete(index=index)

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        # The stock page would load every vector to list it; a summary per index is enough.
        summary = []
        indexes = list(objs)
        counted = {index.pk: index for index in self.get_queryset(request).filter(pk__in=[i.pk for i in indexes])}
        for index in indexes:
            counts = counted.get(index.pk, index)
            summary.append(
                f"Index {index.name}: {getattr(counts, 'vector_total', 0):,} vectors in "
                f"{getattr(counts, 'namespace_total', 0)} namespaces, "
                f"{getattr(counts, 'active_query_total', 0)} active resumable queries"
            )
        perms_needed = set() if self.has_delete_permission(request) else {str(Index._meta.verbose_name)}
        return summary, {str(Index._meta.verbose_name_plural): len(indexes)}, perms_needed, []

    # --- tokens: rotated by action or button, shown once ---------------------------------

    @admin.action(description="Rotate tokens of selected indexes", permissions=["change"])
    def rotate_tokens(self, request: HttpRequest, queryset: QuerySet[Index]) -> HttpResponse | None:
        if request.POST.get("post") == "yes":
            return self._rotate(request, list(queryset))
        return self._rotate_confirmation(request, list(queryset), from_action=True)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("tokens/", wrap(self.tokens_view), name="search_index_tokens"),
            path("<path:object_id>/rotate-tokens/", wrap(self.rotate_view), name="search_index_rotate_tokens"),
            *super().get_urls(),
        ]

    def rotate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        pk = unquote(object_id)
        if not pk.isdigit():
            raise Http404("no such index")
        index = get_object_or_404(Index, pk=int(pk))
        if not self.has_change_permission(request, index):
            raise PermissionDenied
        if request.method == "POST":
            return self._rotate(request, [index])
        return self._rotate_confirmation(request, [index], from_action=False)

    def _rotate(self, request: HttpRequest, indexes: list[Index]) -> HttpResponse:
        credentials = [index_rotate_tokens(index=index) for index in indexes]
        for index in indexes:
            self.log_change(request, index, [{"changed": {"fields": ["tokens"]}}])
        remember_tokens(request, credentials, reason="rotated")
        return HttpResponseRedirect(reverse("admin:search_index_tokens"))

    def _rotate_confirmation(self, request: HttpRequest, indexes: list[Index], *, from_action: bool) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Rotate tokens?",
            "indexes": indexes,
            "from_action": from_action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/search/index/rotate_tokens_confirmation.html", context)

    def tokens_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        # Popped, so a reload (or anyone reading the session later) finds nothing.
        shown = request.session.pop(TOKENS_SESSION_KEY, None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "New index tokens" if shown else "No new tokens",
            "shown": shown,
        }
        return TemplateResponse(request, "admin/search/index/tokens.html", context)
