from __future__ import annotations

from django.urls import path

from search import views

urlpatterns = [
    path("", views.search_page, name="search-page"),
    path("search/start", views.search_start, name="search-start"),
    path("search/next", views.search_next, name="search-next"),
    path("search/end", views.search_end, name="search-end"),
    path("search/progress", views.search_progress, name="search-progress"),
]
