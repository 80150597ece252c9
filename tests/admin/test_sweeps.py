"""The sweeper in the admin: its schedule, its last runs, and sweeping by hand."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from search.models import ResumableQuery, SweepRun
from tests.admin.conftest import start_query

LIST = "/admin/search/sweeprun/"


def test_it_shows_the_beat_schedule_and_the_last_run(staff: Client, db: None, settings) -> None:
    settings.CELERY_BEAT_SCHEDULE = {
        "sweep-expired-resumable-queries": {"task": "search.tasks.sweep_expired_resumable_queries", "schedule": 90.0},
        "weekly": {"task": "search.tasks.other", "schedule": timedelta(days=7)},
    }
    older = timezone.now() - timedelta(hours=3)
    SweepRun.objects.create(started_at=older, finished_at=older, expired_count=9, trigger="beat")
    newest = timezone.now() - timedelta(minutes=2)
    SweepRun.objects.create(started_at=newest, finished_at=newest + timedelta(milliseconds=40), expired_count=4)
    response = staff.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "sweep-expired-resumable-queries",
        "search.tasks.sweep_expired_resumable_queries",
        "every 1m 30s",
        "every 7d 0h",
        "4 expired queries deleted",
        "40 ms",
        "Sweep now",
    ):
        assert text in html, text
    assert [run.expired_count for run in response.context["cl"].result_list] == [4, 9]


def test_it_says_when_the_sweeper_has_not_run(staff: Client, db: None) -> None:
    response = staff.get(LIST)
    assert b"The sweeper has not run yet" in response.content
    assert b"search.tasks.sweep_expired_resumable_queries" in response.content


def test_it_sweeps_now_from_the_button(staff: Client, books) -> None:
    expired, active = start_query(books), start_query(books)
    ResumableQuery.objects.filter(uuid=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert staff.get(f"{LIST}sweep-now/").status_code == 405
    response = staff.post(f"{LIST}sweep-now/", follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert b"Swept: 1 expired resumable query deleted." in response.content
    assert list(ResumableQuery.objects.values_list("uuid", flat=True)) == [active]
    run = SweepRun.objects.get()
    assert (run.trigger, run.expired_count) == ("admin", 1)
    assert [r.trigger for r in response.context["cl"].result_list] == ["admin"]


def test_it_keeps_sweep_runs_read_only(staff: Client, db: None) -> None:
    now = timezone.now()
    run = SweepRun.objects.create(started_at=now, finished_at=now, expired_count=0)
    assert staff.get(f"{LIST}add/").status_code == 403
    page = staff.get(f"{LIST}{run.pk}/change/")
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert staff.post(f"{LIST}{run.pk}/delete/", {"post": "yes"}).status_code == 403
