"""Celery tasks: thin wrappers over services, safe to run twice."""

from __future__ import annotations

import uuid

from celery import shared_task

from search.models import Component
from search.services.demo_load import demo_load_step
from search.services.refill import resumable_refill
from search.services.sweeper import sweep_expired_resumable_queries as sweep


@shared_task(name="search.tasks.sweep_expired_resumable_queries")
def sweep_expired_resumable_queries() -> int:
    return sweep(trigger="beat").expired_count


@shared_task(name="search.tasks.refill_resumable_query")
def refill_resumable_query(handle: str, component: str) -> int:
    """Fetch a resumable query's next candidates ahead of its client (safe to run twice:
    a refill that another got ahead of merges nothing)."""
    return resumable_refill(handle=uuid.UUID(handle), component=Component(component))


@shared_task(name="search.tasks.load_demo_chunk")
def load_demo_chunk(load_id: int) -> int:
    """Load the demo corpus's next chunk and queue the one after (safe to run twice)."""
    return demo_load_step(load_id=load_id)
