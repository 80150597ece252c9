"""Indexes (each reached through its own pair of tokens) and their namespaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from search.errors import InvalidInput, SemanticError
from search.models.choices import IndexType, PartsUse, Similarity

if TYPE_CHECKING:
    from search.services.records import SparseValue

# pgvector builds HNSW over `vector` up to 2,000 dimensions and over `halfvec` up to
# 4,000; beyond 2,000 the approximate scan runs on halfvec and results are rescored.
HNSW_VECTOR_MAX_DIM = 2000
HNSW_HALFVEC_MAX_DIM = 4000
# Half the smallest float32 subnormal (2**-149): doubles up to it round to 0 in float32.
FLOAT32_ZERO_BELOW = 2.0**-150


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
    exact_resumable = models.BooleanField(
        default=False,
        help_text="Resumable queries scan exactly at any namespace size, never through the HNSW index.",
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
    # The last record number given in this namespace (Vector.number); back to 0 on reset.
    last_number = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index", "name"]
        constraints = [models.UniqueConstraint(fields=["index", "name"], name="namespace_unique_name")]

    def __str__(self) -> str:
        return f"{self.index.name}/{self.name or '(default)'}"
