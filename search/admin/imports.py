"""Bulk loads by `import_vectors`: read-only, to see how far each has got."""

from __future__ import annotations

from django.contrib import admin

from search.admin.common import ReadOnlyAdmin
from search.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin[ImportJob]):
    list_display = ["source", "index", "namespace", "state", "lines_done", "total_lines", "updated_at"]
    list_filter = ["state"]
    search_fields = ["source", "index__name"]
    fields = readonly_fields = (
        "index",
        "namespace",
        "source",
        "state",
        "lines_done",
        "total_lines",
        "records_done",
        "error",
        "hnsw_definition",
        "fingerprint",
        "started_at",
        "updated_at",
    )
