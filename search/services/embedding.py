"""Text in, vectors out: the `*-data` endpoints on indexes made with embedding models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from search.embedding import UnknownModelError, bm25, get_model, get_spec
from search.errors import InvalidInput, SemanticError
from search.models import Index
from search.services.records import RecordInput, SparseValue
from search.services.vectors import vectors_upsert

SPARSE_MODELS = {"BM25"}
EMBED_BATCH = 64


def model_dimension(name: str) -> int:
    """The dense dimension of a model (for `create_index --embedding-model`)."""
    try:
        return get_spec(name).dimension
    except UnknownModelError as error:
        raise ValueError(str(error)) from None


def check_sparse_model(name: str) -> None:
    if name and name not in SPARSE_MODELS:
        raise ValueError(f"unknown sparse embedding model {name!r}; use one of {', '.join(sorted(SPARSE_MODELS))}")


def embed_dense(index: Index, texts: Sequence[str]) -> list[list[float]]:
    model = get_model(index.embedding_model)
    return [row.tolist() for row in model.embed(list(texts), batch_size=EMBED_BATCH)]


def upsert_data(*, index: Index, namespace: str, items: Sequence[dict[str, Any]]) -> None:
    """Embed each item's `data` with the index's model(s), keep the text as `data`, upsert."""
    texts = [item["data"] for item in items]
    dense = embed_dense(index, texts) if index.embedding_model else [None] * len(texts)
    sparse = [bm25.embed_document(text) for text in texts] if index.sparse_embedding_model else [None] * len(texts)
    _require_parts(index)
    records = [
        RecordInput(id=item["id"], vector=vector, sparse=sparse_value, metadata=item.get("metadata"), data=item["data"])
        for item, vector, sparse_value in zip(items, dense, sparse, strict=True)
    ]
    vectors_upsert(index=index, namespace=namespace, records=records)


def _require_parts(index: Index) -> None:
    if index.has_dense and not index.embedding_model:
        raise SemanticError(f"this {index.index_type} index has no dense embedding model for data", field="data")
    if index.has_sparse and not index.sparse_embedding_model:
        raise SemanticError(f"this {index.index_type} index has no sparse embedding model for data", field="data")


def resolve_query(*, index: Index, data: dict[str, Any]) -> dict[str, Any]:
    """A data query as the vector query it stands for: `data` embedded per queryMode."""
    _require_parts(index)
    mode = data.get("queryMode") or "HYBRID"
    if mode != "HYBRID" and index.index_type != "HYBRID":
        raise InvalidInput("DENSE and SPARSE modes apply to HYBRID indexes", field="queryMode")
    resolved = dict(data)
    text = data["data"]
    if index.has_dense and mode in ("HYBRID", "DENSE"):
        resolved["vector"] = embed_dense(index, [text])[0]
    if index.has_sparse and mode in ("HYBRID", "SPARSE"):
        query_sparse: SparseValue = bm25.embed_query(text)
        resolved["sparseVector"] = query_sparse
    return resolved


def embed_for_update(*, index: Index, text: str) -> tuple[list[float] | None, SparseValue | None]:
    """New vector(s) for an `update` that carries `data` on a model index."""
    vector = embed_dense(index, [text])[0] if index.embedding_model else None
    sparse = bm25.embed_document(text) if index.sparse_embedding_model else None
    return vector, sparse
