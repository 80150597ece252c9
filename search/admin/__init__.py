"""The admin: a thin layer over the services, for operators (staff users only)."""

from __future__ import annotations

from django.contrib import admin

from search.admin import demo, imports, indexes, queries, sweeps, vectors

admin.site.site_header = "vecsite administration"
admin.site.site_title = "vecsite admin"
admin.site.index_title = "Indexes, vectors and resumable queries"

__all__ = ["demo", "imports", "indexes", "queries", "sweeps", "vectors"]
