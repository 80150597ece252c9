"""Text in, vectors out: the `*-data` endpoints on indexes made with embedding models."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from search.embedding import EmbeddingModel, ModelUnavailableError, bm25, get_model, get_spec
from search.errors import InvalidInput, SemanticError, Unavailable
from search.metrics import EMBEDDED_TEXTS, EMBEDDING_SECONDS
from search.models import Index, IndexType, QueryMode
from search.services.records import SparseValue
from search.services.specs import QuerySpec

SPARSE_MODELS = {"BM25"}
EMBED_BATCH = 64
NO_DATA_MODEL = (
    "Embedding data for this index is not allowed. The index must be created with an embedding model to use it."
)


def model_dimension(name: str) -> int:
    """The dense dimension of a model (for `create_index --embedding-model`)."""
    try:
        return get_spec(name).dimension
    except ModelUnavailableError as error:
        raise ValueError(str(error)) from None


def check_sparse_model(name: str) -> None:
    if name and name not in SPARSE_MODELS:
        raise ValueError(f"unknown sparse embedding model {name!r}; use one of {', '.join(sorted(SPARSE_MODELS))}")


def require_models(index: Index) -> None:
    """Text is accepted only by an index made with an embedding model."""
    if not index.has_models:
        raise SemanticError(NO_DATA_MODEL)


def dense_model(index: Index) -> EmbeddingModel:
    """The index's dense model; a 503 when its weights are gone (its registration removed,
    its directory moved) since the index was made."""
    try:
        return get_model(index.embedding_model)
    except ModelUnavailableError as error:
        raise Unavailable(f"this index's embedding model is not available here: {error}", field="data") from None


def embed_dense(index: Index, texts: Sequence[str]) -> list[list[float]]:
    """Texts to store."""
    model = dense_model(index)
    started = time.perf_counter()
    rows = model.embed_documents(list(texts))
    _count_embedding(index.embedding_model, "document", len(texts), time.perf_counter() - started)
    return [row.tolist() for row in rows]


def embed_dense_query(index: Index, text: str) -> list[float]:
    """A text to search with: the model's query prompt (BGE's instruction), if any, goes first."""
    model = dense_model(index)
    started = time.perf_counter()
    vector: list[float] = model.embed_queries([text])[0].tolist()
    _count_embedding(index.embedding_model, "query", 1, time.perf_counter() - started)
    return vector


def _count_embedding(model: str, purpose: str, texts: int, seconds: float) -> None:
    EMBEDDED_TEXTS.labels(model, purpose).inc(texts)
    EMBEDDING_SECONDS.labels(model, purpose).inc(seconds)


def embed_documents(index: Index, texts: Sequence[str]) -> list[tuple[list[float] | None, SparseValue | None]]:
    """The vector parts of records whose text is `texts`, by the index's model(s)."""
    require_models(index)
    _require_parts(index)
    dense: list[list[float] | None] = [None] * len(texts)
    if index.embedding_model:
        dense = list(embed_dense(index, texts))
    sparse: list[SparseValue | None] = [None] * len(texts)
    if index.sparse_embedding_model:
        sparse = [bm25.embed_document(text) for text in texts]
    return list(zip(dense, sparse, strict=True))


def _require_parts(index: Index) -> None:
    if index.has_dense and not index.embedding_model:
        raise SemanticError(f"this {index.index_type} index has no dense embedding model for data", field="data")
    if index.has_sparse and not index.sparse_embedding_model:
        raise SemanticError(f"this {index.index_type} index has no sparse embedding model for data", field="data")


def embed_query(*, index: Index, spec: QuerySpec) -> QuerySpec:
    """A text query as the vector query it stands for: `data` embedded per its mode."""
    require_models(index)
    _require_parts(index)
    if spec.mode != QueryMode.HYBRID and index.index_type != IndexType.HYBRID:
        raise InvalidInput("DENSE and SPARSE modes apply to HYBRID indexes", field="queryMode")
    assert spec.data is not None
    vector = sparse = None
    if index.has_dense and spec.mode in (QueryMode.HYBRID, QueryMode.DENSE):
        vector = embed_dense_query(index, spec.data)
    if index.has_sparse and spec.mode in (QueryMode.HYBRID, QueryMode.SPARSE):
        sparse = bm25.embed_query(spec.data)
    return dataclasses.replace(spec, vector=vector, sparse=sparse)
