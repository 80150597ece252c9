"""The demo corpus's load: how far it has got, and a way to resume it after a failure."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from search.admin.common import ReadOnlyAdmin, compact_time
from search.models import DemoLoad
from search.services.demo_load import DemoProgress, demo_load_queue


@admin.register(DemoLoad)
class DemoLoadAdmin(ReadOnlyAdmin[DemoLoad]):
    list_display = ["index", "progress", "state", "started", "updated", "error"]
    fields = readonly_fields = ("index", "progress", "state", "started_at", "updated_at", "finished_at", "error")
    actions = ["resume"]

    @admin.display(description="progress")
    def progress(self, obj: DemoLoad) -> str:
        if not obj.total:
            return "not counted yet"
        return f"{obj.loaded:,} of {obj.total:,} entries ({DemoProgress.of(obj).percent}%)"

    @admin.display(description="state")
    def state(self, obj: DemoLoad) -> str:
        if obj.done:
            return "done"
        return "stopped by an error" if obj.error else "loading"

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: DemoLoad) -> str:
        return compact_time(obj.started_at)

    @admin.display(description="last chunk", ordering="updated_at")
    def updated(self, obj: DemoLoad) -> str:
        return compact_time(obj.updated_at)

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff

    @admin.action(description="Resume the selected loads (queue their next chunk)", permissions=["resume"])
    def resume(self, request: HttpRequest, queryset: QuerySet[DemoLoad]) -> None:
        loads = [load for load in queryset if not load.done]
        for load in loads:
            demo_load_queue(load)
        self.message_user(request, f"Queued {len(loads)} unfinished load(s).", messages.SUCCESS)
