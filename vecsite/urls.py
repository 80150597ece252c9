from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from search.api.errors import json_or_default
from search.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path(f"{settings.VECSITE_API_PREFIX}/", include("search.api.urls")),
    path("", include("search.urls")),
]

handler400 = json_or_default(400, "bad request", defaults.bad_request)
handler403 = json_or_default(403, "forbidden", defaults.permission_denied)
handler404 = json_or_default(404, "no such command or route", defaults.page_not_found)
handler500 = json_or_default(500, "internal server error", defaults.server_error)
