"""The `info` result (docs/api.md#info), from the namespaces' kept counters: no COUNT(*)."""

from __future__ import annotations

from typing import Any

from search.models import Index, Namespace

# A stored record is about its float32 vector plus row overhead; sizes are estimated
# from the counters rather than measured, to keep `info` constant-time.
ROW_OVERHEAD_BYTES = 64


def index_info(*, index: Index) -> dict[str, Any]:
    namespaces = {
        name: {"vectorCount": count, "pendingVectorCount": 0}
        for name, count in Namespace.objects.filter(index=index).order_by("name").values_list("name", "vector_count")
    }
    namespaces.setdefault("", {"vectorCount": 0, "pendingVectorCount": 0})
    total = sum(ns["vectorCount"] for ns in namespaces.values())
    dimension = index.dimension or 0
    result: dict[str, Any] = {
        "vectorCount": total,
        "pendingVectorCount": 0,
        "indexSize": total * (4 * dimension + ROW_OVERHEAD_BYTES),
        "dimension": dimension,
        "similarityFunction": index.similarity if index.has_dense else "DOT_PRODUCT",
        "indexType": index.index_type,
        "namespaces": namespaces,
    }
    if index.has_dense:
        result["denseIndex"] = {
            "dimension": dimension,
            "similarityFunction": index.similarity,
            "embeddingModel": index.embedding_model,
        }
    if index.has_sparse:
        result["sparseIndex"] = {"embeddingModel": index.sparse_embedding_model}
    return result
