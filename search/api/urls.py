"""Routes of the Upstash REST API. Every command answers POST, GET, PUT and DELETE alike."""

from __future__ import annotations

from django.urls import re_path

from search.api import resumable_views, views

# Commands that take an optional /{namespace} suffix; the rest of the path is the name.
WITH_NAMESPACE = {
    "upsert": views.UpsertView,
    "upsert-data": views.UpsertDataView,
    "query": views.QueryView,
    "query-data": views.QueryDataView,
    "resumable-query": resumable_views.ResumableQueryView,
    "resumable-query-data": resumable_views.ResumableQueryDataView,
    "fetch": views.FetchView,
    "delete": views.DeleteView,
    "range": views.RangeView,
    "update": views.UpdateView,
    "reset": views.ResetView,
    "delete-namespace": views.DeleteNamespaceView,
    "random": views.RandomView,
}
WITHOUT_NAMESPACE = {
    "resumable-query-next": resumable_views.ResumableNextView,
    "resumable-query-end": resumable_views.ResumableEndView,
    "info": views.InfoView,
    "list-namespaces": views.ListNamespacesView,
    "rename-namespace": views.RenameNamespaceView,
}

IN_NAMESPACE = "-in-namespace"

urlpatterns = [
    *(re_path(rf"^{command}$", view.as_view(), name=command) for command, view in WITHOUT_NAMESPACE.items()),
    *(re_path(rf"^{command}$", view.as_view(), name=command) for command, view in WITH_NAMESPACE.items()),
    # A route of its own (not an optional group) so that the OpenAPI document shows
    # /upsert/{namespace} next to /upsert, each with the parameters it really has.
    *(
        # [\s\S], not ".": a namespace with a newline reaches the view, which names the field.
        re_path(rf"^{command}/(?P<namespace>[\s\S]+)$", view.as_view(), name=f"{command}{IN_NAMESPACE}")
        for command, view in WITH_NAMESPACE.items()
    ),
]
