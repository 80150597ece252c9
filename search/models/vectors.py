"""Records, and the vocabulary of their table: which rows, at what distance, nearest first.

The services compose the queryset's methods; every client value is a bound parameter,
and the only SQL spliced in is a compiled filter (`search.filtering`, values bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Self, cast

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import connection, models, transaction
from django.db.models import F, Func, Q, QuerySet, Value
from django.db.models.functions import Cast
from pgvector.django import (
    CosineDistance,
    HalfVectorField,
    L2Distance,
    MaxInnerProduct,
    SparseVectorField,
    VectorField,
)

from search.filtering import CompiledFilter
from search.models.indexes import Index, Namespace

if TYPE_CHECKING:
    from pgvector import SparseVector

# pgvector caps the HNSW candidate list at 1,000.
HNSW_MAX_EF_SEARCH = 1000

# pgvector's distance operators by similarity: `<=>`, `<->` and `<#>` (the negated inner product).
DISTANCES: dict[str, type[Func]] = {
    "COSINE": CosineDistance,
    "EUCLIDEAN": L2Distance,
    "DOT_PRODUCT": MaxInnerProduct,
}


# The annotation the distance methods add, read back as an expression (the type checker
# knows the model's fields, not annotations made in another method).
DISTANCE = F("distance")
EXACT_DISTANCE = F("exact_distance")


@dataclass(frozen=True)
class Candidate:
    """A search hit: its row and its sort key (smaller is better). For the sparse side
    the key is the negated inner product, as pgvector's `<#>` gives it."""

    pk: int
    distance: float


@dataclass(frozen=True)
class AnnScan:
    """How far an HNSW scan may go: the candidate list and the tuples an iterative scan
    may visit before it gives up (pgvector's `hnsw.ef_search`, `hnsw.max_scan_tuples`)."""

    ef_search: int
    max_scan_tuples: int
    mem_multiplier: int = 1
    work_mem: str | None = None  # None: the server's own


class VectorQuerySet(QuerySet["Vector"]):
    def in_namespace(self, namespace: Namespace) -> Self:
        return self.filter(namespace=namespace)

    def matching(self, compiled: CompiledFilter | None) -> Self:
        """Rows whose metadata satisfies the filter (all rows for None)."""
        if compiled is None or compiled.matches_all:
            return self
        # The SQL is compiled by search.filtering with every value a bound parameter.
        matching = self.extra(where=[compiled.sql], params=list(compiled.params))  # noqa: S610
        return cast(Self, matching)  # the stubs type extra() as returning a plain QuerySet

    def with_dense_distance(self, index: Index, vector: list[float], *, ann: bool) -> Self:
        """Annotate `distance` to the query vector (and `exact_distance`, the same over the
        stored float32 vectors). With `ann`, `distance` is exactly the expression of the
        index's partial HNSW index, so that the planner can use it; past 2,000 dimensions
        that index holds halfvec, whose distances are coarser than the exact ones."""
        assert index.dimension is not None
        distance_class = DISTANCES[index.similarity]
        exact = distance_class(F("embedding"), vector)
        if not ann:
            return self.annotate(distance=exact, exact_distance=F("distance"))
        field_class = VectorField if index.ann_vector_type == "vector" else HalfVectorField
        field = field_class(dimensions=index.dimension)
        distance = distance_class(Cast(F("embedding"), field), Cast(Value(_vector_text(vector)), field))
        if index.ann_vector_type == "vector":
            return self.filter(index=index).annotate(distance=distance, exact_distance=F("distance"))
        return self.filter(index=index).annotate(distance=distance, exact_distance=exact)

    def with_sparse_distance(self, sparse: SparseVector, indices: list[int]) -> Self:
        """Records sharing at least one non-zero index with the query (a GIN-indexed
        array overlap), with `distance` the negated inner product."""
        return self.filter(sparse_indices__overlap=indices).annotate(distance=MaxInnerProduct(F("sparse"), sparse))

    def after(self, position: Candidate | None) -> Self:
        """Keyset paging on (distance, pk): the rows strictly after `position`."""
        if position is None:
            return self
        return self.filter(Q(distance__gt=position.distance) | Q(distance=position.distance, pk__gt=position.pk))

    def nearest(self, limit: int) -> list[Candidate]:
        """The first `limit` rows by (distance, pk), computed exactly."""
        rows = self.order_by(DISTANCE, "pk").values_list("pk", DISTANCE)[:limit]
        return [Candidate(pk=pk, distance=distance) for pk, distance in rows]

    def nearest_with_keys(self, limit: int) -> list[tuple[Candidate, str]]:
        """`nearest`, each row with its id."""
        rows = self.order_by(DISTANCE, "pk").values_list("pk", DISTANCE, "key")[:limit]
        return [(Candidate(pk=pk, distance=distance), key) for pk, distance, key in rows]

    def nearest_ann(self, limit: int, scan: AnnScan) -> list[Candidate]:
        """The first `limit` rows through the HNSW index, iterative scan in relaxed order,
        put back in (exact distance, pk) order here. Fewer come back when the scan gives
        up first (`scan.max_scan_tuples`, or its memory, `work_mem` times `scan_mem_multiplier`)."""
        with transaction.atomic(), connection.cursor() as cursor:
            # One round trip for the scan's settings, local to this transaction. We chose
            # the index for this namespace (by its size); enable_seqscan and enable_sort
            # keep the planner from trading it for a full sort on cost estimates that do
            # not know the dimension.
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.max_scan_tuples', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                "set_config('hnsw.scan_mem_multiplier', %s, true), "
                "set_config('work_mem', coalesce(%s, current_setting('work_mem')), true), "
                "set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)",
                [str(scan.ef_search), str(scan.max_scan_tuples), str(scan.mem_multiplier), scan.work_mem],
            )
            rows = list(self.order_by(DISTANCE).values_list("pk", EXACT_DISTANCE)[:limit])
        rows.sort(key=lambda row: (row[1], row[0]))
        return [Candidate(pk=pk, distance=distance) for pk, distance in rows]


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


class Vector(models.Model):
    """One record. The bigint primary key is the insertion order, which ties in score
    follow; `number` is the same order counted within the namespace (1, 2, ...), which
    range cursors are made of (docs/api.md#range-cursors)."""

    index = models.ForeignKey(Index, on_delete=models.CASCADE, related_name="+")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="vectors")
    key = models.CharField(max_length=512)
    # Given from the namespace's counter (Namespace.last_number) on insert and kept by
    # later upserts of the same id; never reused, so keyset paging survives deletes.
    number = models.BigIntegerField()
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
        constraints = [
            models.UniqueConstraint(fields=["namespace", "key"], name="vector_unique_key"),
            # Also the index range pages and random draws read.
            models.UniqueConstraint(fields=["namespace", "number"], name="vector_unique_number"),
        ]
        indexes = [
            models.Index(
                fields=["namespace", "key"], name="vector_ns_key_prefix", opclasses=["int8_ops", "text_pattern_ops"]
            ),
            GinIndex(fields=["metadata"], name="vector_metadata_gin", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["sparse_indices"], name="vector_sparse_indices_gin"),
        ]

    def __str__(self) -> str:
        return self.key
