"""Deleting resumable queries idle past their maxIdle, in bounded batches."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from search.metrics import SWEEPS, SWEPT
from search.models import ResumableQuery, SweepRun

logger = logging.getLogger(__name__)

SWEEP_HISTORY_DAYS = 7


def sweep_expired_resumable_queries(*, trigger: str = "beat", batch_size: int | None = None) -> SweepRun:
    """Delete expired handles batch by batch; concurrent sweepers skip each other's rows."""
    batch_size = batch_size or settings.VECSITE_RESUMABLE_SWEEP_BATCH
    started = timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                ResumableQuery.objects.expired()
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            ResumableQuery.objects.filter(pk__in=batch).delete()
            expired += len(batch)
    SWEEPS.labels(trigger).inc()
    SWEPT.inc(expired)
    run = SweepRun.objects.create(
        started_at=started, finished_at=timezone.now(), expired_count=expired, trigger=trigger
    )
    # The history is for operators; a week of it is plenty.
    SweepRun.objects.filter(started_at__lt=started - timedelta(days=SWEEP_HISTORY_DAYS)).delete()
    if expired:
        logger.info("swept %d expired resumable queries", expired)
    return run
