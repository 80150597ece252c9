"""Data model: indexes, their namespaces and vectors, and resumable query handles."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from pgvector.django import SparseVectorField, VectorField

from search.errors import InvalidInput, SemanticError
from search.progress import Progress, ProgressField
from search.querysets import VectorQuerySet

if TYPE_CHECKING:
    from collections.abc import Sequence

    from search.services.records import SparseValue

# pgvector builds HNSW over `vector` up to 2,000 dimensions and over `halfvec` up to
# 4,000; beyond 2,000 the approximate scan runs on halfvec and results are rescored.
HNSW_VECTOR_MAX_DIM = 2000
HNSW_HALFVEC_MAX_DIM = 4000
# Half the smallest float32 subnormal (2**-149): doubles up to it round to 0 in float32.
FLOAT32_ZERO_BELOW = 2.0**-150


class Similarity(models.TextChoices):
    COSINE = "COSINE"
    EUCLIDEAN = "EUCLIDEAN"
    DOT_PRODUCT = "DOT_PRODUCT"


class IndexType(models.TextChoices):
    DENSE = "DENSE"
    SPARSE = "SPARSE"
    HYBRID = "HYBRID"


class Fusion(models.TextChoices):
    """How a hybrid query merges its dense and sparse results (docs/api.md#fusion)."""

    RRF = "RRF", "RRF"
    DBSF = "DBSF", "DBSF"


class Weighting(models.TextChoices):
    IDF = "IDF", "IDF"


class QueryMode(models.TextChoices):
    """Which parts of a text query a HYBRID index searches."""

    HYBRID = "HYBRID"
    DENSE = "DENSE"
    SPARSE = "SPARSE"


class Component(models.TextChoices):
    """A side of a search: dense vectors or sparse vectors."""

    DENSE = "d", "dense"
    SPARSE = "s", "sparse"


class PartsUse(Enum):
    """What the vector parts are for, which decides the rules of `Index.check_parts`."""

    QUERY = "query"
    RECORD = "record"
    UPDATE = "update"


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

    @property
    def ann_vector_type(self) -> str:
        """The type the HNSW index stores: `vector`, or `halfvec` past 2,000 dimensions."""
        assert self.dimension is not None
        return "vector" if self.dimension <= HNSW_VECTOR_MAX_DIM else "halfvec"

    @property
    def has_models(self) -> bool:
        return bool(self.embedding_model or self.sparse_embedding_model)

    def check_parts(
        self, vector: Sequence[float] | None, sparse: SparseValue | None, *, use: PartsUse, field: str = ""
    ) -> None:
        """The vector parts a query, a record or an update may carry on this index type
        (docs/api.md#index-types): a record has exactly the parts of its type, a query at
        least one of them, an update of a HYBRID index both or neither."""
        vector_field = f"{field}.vector" if field else "vector"
        sparse_field = f"{field}.sparseVector" if field else "sparseVector"
        if use is PartsUse.QUERY and vector is None and sparse is None:
            raise InvalidInput("a query needs a vector or a sparseVector", field=vector_field)
        if vector is not None:
            if not self.has_dense:
                message = (
                    "a SPARSE index is queried with sparseVector, not vector"
                    if use is PartsUse.QUERY
                    else "this SPARSE index takes no dense vector"
                )
                raise SemanticError(message, field=vector_field)
            self.check_dense(vector, field=vector_field)
        elif use is PartsUse.RECORD and self.has_dense:
            raise SemanticError(f"this {self.index_type} index needs a dense vector", field=vector_field)
        if sparse is not None:
            if not self.has_sparse:
                message = (
                    "a DENSE index is queried with vector, not sparseVector"
                    if use is PartsUse.QUERY
                    else "this DENSE index takes no sparse vector"
                )
                raise SemanticError(message, field=sparse_field)
        elif use is PartsUse.RECORD and self.has_sparse:
            raise SemanticError(f"this {self.index_type} index needs a sparse vector", field=sparse_field)
        if use is PartsUse.UPDATE and self.index_type == IndexType.HYBRID and (vector is None) != (sparse is None):
            raise SemanticError("a HYBRID index updates both vector and sparseVector, or neither", field=vector_field)

    def check_dense(self, vector: Sequence[float], *, field: str) -> None:
        if len(vector) != self.dimension:
            raise SemanticError(f"Invalid vector dimension: {len(vector)}, expected: {self.dimension}", field=field)
        # Judge the float32 values that get stored: [1e-46, 1e-46] is a zero vector there.
        if self.similarity == Similarity.COSINE and not any(abs(x) > FLOAT32_ZERO_BELOW for x in vector):
            raise InvalidInput("a zero vector has no direction, so COSINE similarity is undefined for it", field=field)


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

    objects = VectorQuerySet.as_manager()

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
    progress: Progress = ProgressField(help_text="How far each side's candidate buffer has got.")

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


class ResumableCandidate(models.Model):
    """One prefetched result of a resumable query, in result order per component."""

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
