"""Resumable query handles, their candidate buffers, and the sweeper's history."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone
from pgvector.django import SparseVectorField, VectorField

from search.models.choices import Component, Fusion, Weighting
from search.models.indexes import Index, Namespace
from search.progress import ProgressField


class ResumableQueryQuerySet(models.QuerySet["ResumableQuery"]):
    def active(self) -> ResumableQueryQuerySet:
        return self.filter(expires_at__gt=timezone.now())

    def expired(self) -> ResumableQueryQuerySet:
        return self.filter(expires_at__lte=timezone.now())

    def delete_locked(self) -> int:
        """Delete these handles, their rows locked first in primary-key order; returns how
        many. A handle's stop locks its row before deleting its buffer, while Django's
        cascade (an index's or a namespace's delete) deletes the buffer first: without the
        lock the two deadlock (seen when an index was deleted as its search page closed)."""
        with transaction.atomic():
            pks = list(self.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
            _, by_model = ResumableQuery.objects.filter(pk__in=pks).delete()
        return by_model.get(ResumableQuery._meta.label, 0)


class ResumableQuery(models.Model):
    """Server-side state of one resumable query (see docs/resumable-queries.md)."""

    class Kind(models.TextChoices):
        VECTOR = "vector"
        TEXT = "text"

    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    index = models.ForeignKey(Index, on_delete=models.CASCADE, related_name="resumable_queries")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="resumable_queries")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.VECTOR)
    query_text = models.TextField(blank=True, default="")
    # The query as resolved at start: a text query is embedded once, here.
    query_vector = VectorField(null=True, blank=True)
    query_sparse = SparseVectorField(null=True, blank=True)
    # The filter as the client wrote it, and as compiled at start (never parsed again).
    filter = models.TextField(blank=True, default="")
    filter_sql = models.TextField(blank=True, default="")
    filter_params = models.JSONField(default=list, blank=True)
    include_vectors = models.BooleanField(default=False)
    include_metadata = models.BooleanField(default=False)
    include_data = models.BooleanField(default=False)
    weighting_strategy = models.CharField(max_length=8, choices=Weighting.choices, blank=True, default="")
    fusion_algorithm = models.CharField(max_length=8, choices=Fusion.choices, blank=True, default="")
    top_k = models.PositiveIntegerField()
    max_idle = models.PositiveIntegerField(help_text="Seconds without use before the handle expires.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    returned_count = models.PositiveIntegerField(default=0, help_text="Results handed out so far.")
    progress = ProgressField(help_text="How far each side's candidate buffer has got.")
    # Fair shares (search/services/shares.py): each kind of holder is capped apart.
    holder = models.CharField(
        max_length=32,
        default="token:rw",
        help_text="Who started it: the index's read-write token (token:rw), its read-only token (token:ro), "
        "or a search page visitor (page: and a digest of their address).",
    )

    objects = ResumableQueryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "resumable query"
        verbose_name_plural = "resumable queries"
        indexes = [models.Index(fields=["index", "expires_at"], name="rq_index_expires")]

    def __str__(self) -> str:
        return str(self.uuid)

    def touch(self, now: datetime | None = None) -> None:
        now = now or timezone.now()
        self.last_used_at = now
        self.expires_at = now + timedelta(seconds=self.max_idle)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class BufferedCandidate(models.Model):
    """A candidate of a resumable query not yet handed out, in one side's buffer. A side
    is read nearest first, by (distance, vector_id); rows leave it as they are handed out."""

    pk = models.CompositePrimaryKey("query_id", "component", "vector_id")
    # No index of its own: the primary key and the reading order both start with it.
    query = models.ForeignKey(ResumableQuery, on_delete=models.CASCADE, related_name="candidates", db_index=False)
    component = models.CharField(max_length=1, choices=Component.choices, default=Component.DENSE)
    vector_id = models.BigIntegerField()  # no FK: a vector deleted since is skipped, not cascaded
    distance = models.FloatField()
    # The exact score, once a `next` has read the row and scored it: deep in a dense
    # namespace a page reads many rows to rank ten, and each is loaded and scored once.
    score = models.FloatField(null=True)

    class Meta:
        indexes = [models.Index(fields=["query", "component", "distance", "vector_id"], name="rq_buffer_order")]

    def __str__(self) -> str:
        return f"{self.query_id}/{self.component}/{self.vector_id}"


class HandedOut(models.Model):
    """An id a resumable query has handed out. It is never handed out again by that query,
    whatever happens to the vector (updated, or deleted and inserted anew)."""

    pk = models.CompositePrimaryKey("query_id", "key")
    query = models.ForeignKey(ResumableQuery, on_delete=models.CASCADE, related_name="handed_out", db_index=False)
    key = models.CharField(max_length=512)
    vector_id = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "handed out"
        # A refill leaves out rows already handed out (a hybrid query's other side).
        indexes = [models.Index(fields=["query", "vector_id"], name="rq_handed_out_vector")]

    def __str__(self) -> str:
        return f"{self.query_id}/{self.key}"


class SweepRun(models.Model):
    """A record of one sweep of expired resumable queries."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    expired_count = models.PositiveIntegerField()
    trigger = models.CharField(max_length=16, default="beat")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} ({self.expired_count} expired)"
