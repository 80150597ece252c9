from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from search.views import healthz, metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path(f"{settings.VECSITE_API_PREFIX}/", include("search.api.urls")),
    path("", include("search.urls")),
]
# Errors under /v1 become the API's envelope in search.middleware.ApiErrorEnvelopeMiddleware,
# in every mode (with DEBUG on too); elsewhere Django's own pages answer.
