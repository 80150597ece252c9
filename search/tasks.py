"""Celery tasks: thin wrappers over services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from search.services.sweeper import sweep_expired_resumable_queries as sweep


@shared_task(name="search.tasks.sweep_expired_resumable_queries")
def sweep_expired_resumable_queries() -> int:
    return sweep(trigger="beat").expired_count
