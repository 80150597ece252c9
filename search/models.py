"""Data model: indexes, their namespaces and vectors, and resumable query handles."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from pgvector.django import SparseVectorField, VectorField


class Similarity(models.TextChoices):
    COSINE = "COSINE"
    EUCLIDEAN = "EUCLIDEAN"
    DOT_PRODUCT = "DOT_PRODUCT"


class IndexType(models.TextChoices):
    DENSE = "DENSE"
    SPARSE = "SPARSE"
    HYBRID = "HYBRID"


def default_max_active_queries() -> int:
    return settings.VECSITE_RESUMABLE_DEFAULT_MAX_ACTIVE


class IndexQuerySet(models.QuerySet["Index"]):
    def for_token_hash(self, token_hash: str) -> IndexQuerySet:
        return self.filter(Q(token_hash=token_hash) | Q(readonly_token_hash=token_hash))


class Index(models.Model):
    """One vector index, reached through its own pair of bearer tokens."""

    name = models.SlugField(max_length=100, unique=True)
    index_type = models.CharField(max_length=8, choices=IndexType.choices, default=IndexType.DENSE)
    dimension = models.PositiveIntegerField(null=True, blank=True, help_text="Dense dimension; empty for SPARSE.")
    similarity = models.CharField(max_length=12, choices=Similarity.choices, default=Similarity.COSINE)
    embedding_model = models.CharField(max_length=64, blank=True, default="")
    sparse_embedding_model = models.CharField(max_length=64, blank=True, default="")
    # Only SHA-256 digests of the tokens are kept; a token is shown once when made.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    readonly_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    max_active_queries = models.PositiveIntegerField(
        default=default_max_active_queries,
        help_text="How many resumable queries may be active on this index at once.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = IndexQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "indexes"

    def __str__(self) -> str:
        return self.name

    @property
    def has_dense(self) -> bool:
        return self.index_type in (IndexType.DENSE, IndexType.HYBRID)

    @property
    def has_sparse(self) -> bool:
        return self.index_type in (IndexType.SPARSE, IndexType.HYBRID)

    @property
    def hnsw_index_name(self) -> str:
        return f"search_vector_hnsw_{self.pk}"


class Namespace(models.Model):
    """A partition of an index. The default namespace is the empty string and always exists."""

    index = models.ForeignKey(Index, on_delete=models.CASCADE, related_name="namespaces")
    name = models.CharField(max_length=255, blank=True)
    # Kept in step with the vectors by the write services, so that info and the admin
    # never need COUNT(*) over a large namespace.
    vector_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index", "name"]
        constraints = [models.UniqueConstraint(fields=["index", "name"], name="namespace_unique_name")]

    def __str__(self) -> str:
        return f"{self.index.name}/{self.name or '(default)'}"


class Vector(models.Model):
    """One record. The bigint primary key is the insertion order: range cursors and
    ties in score both follow it."""

    index = models.ForeignKey(Index, on_delete=models.CASCADE, related_name="+")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="vectors")
    key = models.CharField(max_length=512)
    # No fixed dimension: indexes of many dimensions share the table. Each index gets a
    # partial HNSW index over `embedding::vector(D)` (see services.indexes).
    embedding = VectorField(null=True, blank=True)
    sparse = SparseVectorField(null=True, blank=True)
    # The sparse vector's non-zero indices, so that "shares at least one index with the
    # query" is a GIN-indexed array overlap, and document frequencies a GIN lookup.
    sparse_indices = ArrayField(models.IntegerField(), null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    data = models.TextField(null=True, blank=True)  # noqa: DJ001 - absent and "" differ on the wire

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "key"], name="vector_unique_key")]
        indexes = [
            models.Index(
                fields=["namespace", "key"], name="vector_ns_key_prefix", opclasses=["int8_ops", "text_pattern_ops"]
            ),
            GinIndex(fields=["metadata"], name="vector_metadata_gin", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["sparse_indices"], name="vector_sparse_indices_gin"),
        ]

    def __str__(self) -> str:
        return self.key


class ResumableQueryQuerySet(models.QuerySet["ResumableQuery"]):
    def active(self) -> ResumableQueryQuerySet:
        return self.filter(expires_at__gt=timezone.now())

    def expired(self) -> ResumableQueryQuerySet:
        return self.filter(expires_at__lte=timezone.now())


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
    filter = models.TextField(blank=True, default="")
    include_vectors = models.BooleanField(default=False)
    include_metadata = models.BooleanField(default=False)
    include_data = models.BooleanField(default=False)
    weighting_strategy = models.CharField(max_length=8, blank=True, default="")
    fusion_algorithm = models.CharField(max_length=8, blank=True, default="")
    query_mode = models.CharField(max_length=8, blank=True, default="")
    top_k = models.PositiveIntegerField()
    max_idle = models.PositiveIntegerField(help_text="Seconds without use before the handle expires.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    # Progress: how many results were handed out, how many candidates were consumed from
    # the buffer, how many the buffer holds, and the keyset position of its last entry.
    returned_count = models.PositiveIntegerField(default=0)
    consumed = models.PositiveIntegerField(default=0)
    buffered = models.PositiveIntegerField(default=0)
    last_distance = models.FloatField(null=True, blank=True)
    last_vector_id = models.BigIntegerField(null=True, blank=True)
    exhausted = models.BooleanField(default=False, help_text="The search has no candidates beyond the buffer.")
    # The same progress for the sparse side of a fused hybrid query (the fields above
    # then describe the dense side).
    sparse_consumed = models.PositiveIntegerField(default=0)
    sparse_buffered = models.PositiveIntegerField(default=0)
    sparse_last_distance = models.FloatField(null=True, blank=True)
    sparse_last_vector_id = models.BigIntegerField(null=True, blank=True)
    sparse_exhausted = models.BooleanField(default=False)

    objects = ResumableQueryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "resumable query"
        verbose_name_plural = "resumable queries"
        indexes = [models.Index(fields=["index", "expires_at"], name="rq_index_expires")]

    def __str__(self) -> str:
        return str(self.uuid)

    def touch(self, now=None) -> None:
        now = now or timezone.now()
        self.last_used_at = now
        self.expires_at = now + timedelta(seconds=self.max_idle)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class ResumableCandidate(models.Model):
    """One prefetched result of a resumable query, in result order per component."""

    class Component(models.TextChoices):
        DENSE = "d"
        SPARSE = "s"

    pk = models.CompositePrimaryKey("query_id", "component", "position")
    # No index of its own: the primary key starts with the query, and a lone query_id index
    # is what the planner picks on a freshly grown buffer (stale statistics), scanning
    # the whole buffer instead of the indexes below.
    query = models.ForeignKey(ResumableQuery, on_delete=models.CASCADE, related_name="candidates", db_index=False)
    component = models.CharField(max_length=1, choices=Component.choices, default=Component.DENSE)
    position = models.PositiveIntegerField()
    # Hybrid queries fuse both components per batch: a vector handed out through one
    # component is marked here in both, and skipped from then on.
    returned = models.BooleanField(default=False)
    vector_id = models.BigIntegerField()  # no FK: a vector deleted since is skipped, not cascaded
    distance = models.FloatField()

    class Meta:
        # Marking a fused batch's winners as returned finds them by vector in both buffers.
        indexes = [
            models.Index(fields=["query", "vector_id"], name="rq_candidate_vector"),
            # A fused query reads each side's next candidates not yet returned: this index
            # holds only those, so the read stays O(k) however many were returned ahead.
            models.Index(
                fields=["query", "component", "position"], condition=Q(returned=False), name="rq_candidate_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query_id}#{self.position}"


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
