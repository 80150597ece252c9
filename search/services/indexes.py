"""Creating, deleting and re-keying indexes, and the per-index HNSW index."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from search.errors import InvalidInput
from search.models import HNSW_HALFVEC_MAX_DIM, Index, IndexType, Namespace, ResumableQuery, Similarity
from search.tokens import hash_token, new_token

_OPCLASS_SUFFIX = {
    Similarity.COSINE: "cosine_ops",
    Similarity.EUCLIDEAN: "l2_ops",
    Similarity.DOT_PRODUCT: "ip_ops",
}


@dataclass(frozen=True)
class IndexCredentials:
    index: Index
    token: str
    readonly_token: str

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.index.name,
            "url": api_url(),
            "token": self.token,
            "readonly_token": self.readonly_token,
        }


def api_url() -> str:
    return f"{settings.VECSITE_PUBLIC_URL.rstrip('/')}/{settings.VECSITE_API_PREFIX}"


@dataclass(frozen=True)
class IndexSpec:
    """What an index is made with. A dense embedding model sets the dimension."""

    name: str
    dimension: int | None = None
    similarity: str = Similarity.COSINE
    index_type: str = IndexType.DENSE
    embedding_model: str = ""
    sparse_embedding_model: str = ""
    max_active_queries: int | None = None
    exact_resumable: bool = False


def index_check(spec: IndexSpec) -> IndexSpec:
    """Every rule an index must meet, without writing anything: the spec as it will be
    made (the dimension of a SPARSE index cleared, of a model index filled in)."""
    if Index.objects.filter(name=spec.name).exists():
        raise InvalidInput(f"an index named {spec.name!r} already exists", field="name")
    if spec.similarity not in Similarity.values:
        raise InvalidInput(
            f"unknown similarity {spec.similarity!r}; use one of {', '.join(Similarity.values)}", field="similarity"
        )
    if spec.index_type not in IndexType.values:
        raise InvalidInput(
            f"unknown index type {spec.index_type!r}; use one of {', '.join(IndexType.values)}", field="type"
        )
    dimension = _dimension_for_models(spec)
    if spec.index_type == IndexType.SPARSE:
        dimension = None
    elif dimension is None or not 1 <= dimension <= min(settings.VECSITE_MAX_DIMENSION, HNSW_HALFVEC_MAX_DIM):
        raise InvalidInput(
            f"must be between 1 and {min(settings.VECSITE_MAX_DIMENSION, HNSW_HALFVEC_MAX_DIM)}", field="dimension"
        )
    return dataclasses.replace(spec, dimension=dimension)


@transaction.atomic
def index_create(spec: IndexSpec) -> IndexCredentials:
    spec = index_check(spec)
    token, readonly_token = new_token("vs"), new_token("vsro")
    index = Index(
        name=spec.name,
        dimension=spec.dimension,
        similarity=spec.similarity,
        index_type=spec.index_type,
        embedding_model=spec.embedding_model,
        sparse_embedding_model=spec.sparse_embedding_model,
        token_hash=hash_token(token),
        readonly_token_hash=hash_token(readonly_token),
        exact_resumable=spec.exact_resumable,
    )
    if spec.max_active_queries is not None:
        index.max_active_queries = spec.max_active_queries
    index.full_clean(exclude=["token_hash", "readonly_token_hash"])
    index.save()
    Namespace.objects.create(index=index, name="")
    if index.has_dense:
        _create_hnsw_index(index)
    return IndexCredentials(index=index, token=token, readonly_token=readonly_token)


def _dimension_for_models(spec: IndexSpec) -> int | None:
    """Check the model names against the index type; a dense model sets the dimension."""
    from search.services.embedding import check_sparse_model, model_dimension

    dimension = spec.dimension
    if spec.embedding_model:
        if spec.index_type == IndexType.SPARSE:
            raise InvalidInput("a SPARSE index takes a sparse embedding model only", field="embedding_model")
        try:
            model_dim = model_dimension(spec.embedding_model)
        except ValueError as error:
            raise InvalidInput(str(error), field="embedding_model") from None
        if dimension is not None and dimension != model_dim:
            raise InvalidInput(f"{dimension} does not match {spec.embedding_model}'s {model_dim}", field="dimension")
        dimension = model_dim
    if spec.sparse_embedding_model:
        if spec.index_type == IndexType.DENSE:
            raise InvalidInput("a DENSE index takes a dense embedding model only", field="sparse_embedding_model")
        try:
            check_sparse_model(spec.sparse_embedding_model)
        except ValueError as error:
            raise InvalidInput(str(error), field="sparse_embedding_model") from None
    return dimension


def _create_hnsw_index(index: Index) -> None:
    with connection.cursor() as cursor:
        _fire_deferred_constraints(cursor)
        cursor.execute(_hnsw_index_sql(index))


def _hnsw_index_sql(index: Index) -> str:
    assert index.dimension is not None and index.pk is not None
    vector_type = index.ann_vector_type
    opclass = f"{vector_type}_{_OPCLASS_SUFFIX[Similarity(index.similarity)]}"
    # Identifiers and numbers here are ours (a primary key and a validated dimension),
    # never client text. One partial index per index lets dimensions differ per index.
    return (
        f"CREATE INDEX {index.hnsw_index_name} ON search_vector USING hnsw "
        f"((embedding::{vector_type}({int(index.dimension)})) {opclass}) "
        f"WITH (m = {int(settings.VECSITE_HNSW_M)}, ef_construction = {int(settings.VECSITE_HNSW_EF_CONSTRUCTION)}) "
        f"WHERE index_id = {int(index.pk)}"
    )


def hnsw_index_drop(index: Index) -> str:
    """Drop the index's HNSW index (before a bulk load). Returns what to build again: its
    definition as Postgres states it, so the same index comes back whatever the settings
    say now (or the settings' one, if it had none)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index.hnsw_index_name])
        row = cursor.fetchone()
        if row is None:
            return _hnsw_index_sql(index)
        _fire_deferred_constraints(cursor)
        cursor.execute(f"DROP INDEX IF EXISTS {index.hnsw_index_name}")
    return str(row[0])


def hnsw_index_build(index: Index, definition: str, *, maintenance_work_mem: str) -> None:
    """Build the HNSW index from a definition `hnsw_index_drop` returned, with memory
    enough to build the graph in memory (pgvector's fast path: past the limit it goes on
    much slower, page by page)."""
    if not definition.startswith(f"CREATE INDEX {index.hnsw_index_name} ON "):
        raise ValueError(f"not the definition of {index.hnsw_index_name}: {definition[:80]!r}")
    with transaction.atomic(), connection.cursor() as cursor:
        _fire_deferred_constraints(cursor)
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [maintenance_work_mem])
        cursor.execute(definition)  # read back from pg_indexes: Postgres' own text of our DDL


def _fire_deferred_constraints(cursor: CursorWrapper) -> None:
    # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, and Postgres refuses DDL on
    # search_vector while its checks are pending ("pending trigger events"): that happens
    # when an enclosing transaction has already written vectors. Run the checks now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@transaction.atomic
def index_delete(*, index: Index) -> None:
    with connection.cursor() as cursor:
        _fire_deferred_constraints(cursor)
        cursor.execute(f"DROP INDEX IF EXISTS {index.hnsw_index_name}")
    with transaction.atomic():
        ResumableQuery.objects.filter(index=index).delete_locked()
        index.delete()


@transaction.atomic
def index_rotate_tokens(*, index: Index) -> IndexCredentials:
    """Replace both tokens; the old ones stop working at once."""
    token, readonly_token = new_token("vs"), new_token("vsro")
    index.token_hash = hash_token(token)
    index.readonly_token_hash = hash_token(readonly_token)
    index.save(update_fields=["token_hash", "readonly_token_hash"])
    return IndexCredentials(index=index, token=token, readonly_token=readonly_token)
