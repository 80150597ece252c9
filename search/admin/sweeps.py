"""The sweeper: its (static) beat schedule, its recent runs, and a "Sweep now" button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from search.admin.common import ReadOnlyAdmin, human_duration
from search.models import ResumableQuery, SweepRun
from search.services.sweeper import sweep_expired_resumable_queries


@dataclass(frozen=True)
class ScheduleEntry:
    name: str
    task: str
    every: str


def describe_schedule(schedule: object) -> str:
    if isinstance(schedule, int | float):
        return f"every {human_duration(float(schedule))}"
    if isinstance(schedule, timedelta):
        return f"every {human_duration(schedule.total_seconds())}"
    return str(schedule)  # a celery crontab or solar schedule describes itself


def beat_schedule() -> list[ScheduleEntry]:
    """The periodic tasks as configured in settings.CELERY_BEAT_SCHEDULE."""
    entries = getattr(settings, "CELERY_BEAT_SCHEDULE", {})
    return [
        ScheduleEntry(name=name, task=entry["task"], every=describe_schedule(entry["schedule"]))
        for name, entry in sorted(entries.items())
    ]


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdmin[SweepRun]):
    list_display = ["started_at", "finished_at", "took", "expired_count", "trigger"]
    list_filter = ["trigger"]
    fields = readonly_fields = ("started_at", "finished_at", "took", "expired_count", "trigger")

    def has_sweep_permission(self, request: HttpRequest) -> bool:
        # A sweep deletes resumable queries (expired ones only).
        model = ResumableQuery._meta
        return request.user.has_perm(f"{model.app_label}.delete_{model.model_name}")

    @admin.display(description="took")
    def took(self, obj: SweepRun) -> str:
        seconds = (obj.finished_at - obj.started_at).total_seconds()
        return f"{seconds * 1000:.0f} ms" if seconds < 1 else human_duration(seconds)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "schedule": beat_schedule(),
            "last_run": SweepRun.objects.order_by("-started_at").first(),
            "can_sweep": self.has_sweep_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[Any]:
        return [
            path("sweep-now/", self.admin_site.admin_view(self.sweep_now_view), name="search_sweeprun_sweep_now"),
            *super().get_urls(),
        ]

    def sweep_now_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_sweep_permission(request):
            raise PermissionDenied
        run = sweep_expired_resumable_queries(trigger="admin")
        count = run.expired_count
        self.message_user(
            request,
            f"Swept: {count} expired resumable {'query' if count == 1 else 'queries'} deleted.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:search_sweeprun_changelist"))
