from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from search.models import ResumableQuery, SweepRun
from search.services.sweeper import sweep_expired_resumable_queries
from tests.resumable.helpers import start_handles


def start_queries(index, count: int) -> list:
    return start_handles(index, *[60] * count)


def test_it_deletes_only_expired_queries_in_batches(make_index):
    index = make_index(dimension=2).index
    handles = start_queries(index, 7)
    ResumableQuery.objects.filter(uuid__in=handles[:5]).update(expires_at=timezone.now() - timedelta(seconds=1))
    run = sweep_expired_resumable_queries(trigger="test", batch_size=2)
    assert run.expired_count == 5
    assert set(ResumableQuery.objects.values_list("uuid", flat=True)) == set(handles[5:])


def test_it_sweeps_by_hand_with_a_command(make_index, capsys):
    index = make_index(dimension=2).index
    handles = start_queries(index, 2)
    ResumableQuery.objects.filter(uuid=handles[0]).update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("sweep_resumable_queries")
    assert "Expired 1 resumable queries." in capsys.readouterr().out
    assert SweepRun.objects.get().trigger == "command"


def test_it_keeps_a_week_of_sweep_history(db):
    old = timezone.now() - timedelta(days=8)
    SweepRun.objects.create(started_at=old, finished_at=old, expired_count=3)
    sweep_expired_resumable_queries(trigger="test")
    assert SweepRun.objects.count() == 1
