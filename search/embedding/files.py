"""A sentence-transformers model directory, read without sentence-transformers or torch.

The layout is the one sentence-transformers saves and Hugging Face publishes::

    config.json                        the encoder (BERT or XLM-RoBERTa family)
    model.safetensors                  its weights
    tokenizer.json                     the fast tokenizer
    modules.json                       Transformer -> Pooling [-> Normalize]
    1_Pooling/config.json              mean or CLS pooling
    sentence_bert_config.json          max_seq_length, do_lower_case
    config_sentence_transformers.json  prompts (e.g. a query instruction)

Only what the files say is used; a missing optional file means sentence-transformers'
own default. Anything we cannot reproduce exactly is refused with ``ModelFilesError``
rather than embedded differently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Pooling = Literal["mean", "cls"]

WEIGHTS_FILE = "model.safetensors"
# Model types whose position ids start after the padding index (fairseq's convention).
_OFFSET_POSITION_TYPES = frozenset({"roberta", "xlm-roberta", "camembert"})
_ACTIVATIONS = frozenset({"gelu", "gelu_new", "gelu_pytorch_tanh", "relu"})
_ST = "sentence_transformers.models."


class ModelFilesError(RuntimeError):
    """The model directory is missing files or has a configuration we do not support."""


@dataclass(frozen=True)
class BertConfig:
    """The subset of HF ``config.json`` the forward pass needs."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    layer_norm_eps: float
    max_position_embeddings: int
    hidden_act: str
    pad_token_id: int = 0
    # First position id: 0 for BERT, padding_idx + 1 for (XLM-)RoBERTa.
    position_offset: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BertConfig:
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise ModelFilesError("only absolute position embeddings are supported")
        act = str(data.get("hidden_act", "gelu"))
        if act not in _ACTIVATIONS:
            raise ModelFilesError(f"unsupported hidden_act {act!r}")
        pad = int(data.get("pad_token_id") or 0)
        config = cls(
            hidden_size=int(data["hidden_size"]),
            num_layers=int(data["num_hidden_layers"]),
            num_heads=int(data["num_attention_heads"]),
            intermediate_size=int(data["intermediate_size"]),
            layer_norm_eps=float(data["layer_norm_eps"]),
            max_position_embeddings=int(data["max_position_embeddings"]),
            hidden_act=act,
            pad_token_id=pad,
            position_offset=pad + 1 if data.get("model_type") in _OFFSET_POSITION_TYPES else 0,
        )
        if config.hidden_size % config.num_heads:
            raise ModelFilesError("hidden_size is not a multiple of num_attention_heads")
        return config

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def max_tokens(self) -> int:
        """The longest sequence the position embeddings cover."""
        return self.max_position_embeddings - self.position_offset


@dataclass(frozen=True)
class SentenceConfig:
    """How sentence-transformers would turn this directory's encoder into sentence vectors."""

    model_dir: Path
    bert: BertConfig
    pooling: Pooling
    normalize: bool
    max_seq_length: int
    do_lower_case: bool
    dimension: int
    # Prepended to the text before tokenising (sentence-transformers' ``prompts``);
    # ``None`` when the files state no query prompt at all (an empty one is a choice).
    query_prompt: str | None
    document_prompt: str

    @property
    def weights_path(self) -> Path:
        return self.model_dir / WEIGHTS_FILE

    @property
    def tokenizer_path(self) -> Path:
        return self.model_dir / "tokenizer.json"


def read_sentence_config(model_dir: Path | str) -> SentenceConfig:
    """Parse the directory's configuration files (cheap: the weights are not read)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelFilesError(f"{model_dir} is not a directory")
    modules = _read_modules(model_dir)
    pooling_dir = modules.get(_ST + "Pooling")
    normalize = _ST + "Normalize" in modules
    if modules.get(_ST + "Transformer", "") != "":
        raise ModelFilesError("the Transformer module must be the directory itself (path '')")

    bert = BertConfig.from_json(read_json(model_dir / "config.json"))
    st_cfg = read_json(model_dir / "sentence_bert_config.json", default={})
    max_seq_length = min(int(st_cfg.get("max_seq_length") or bert.max_tokens), bert.max_tokens)

    pooling: Pooling = "mean"
    dimension = bert.hidden_size
    if pooling_dir is not None:
        pool_cfg = read_json(model_dir / pooling_dir / "config.json", default={})
        pooling = _pooling_mode(pool_cfg)
        dimension = int(pool_cfg.get("word_embedding_dimension", bert.hidden_size))
        if dimension != bert.hidden_size:
            raise ModelFilesError(f"pooling dimension {dimension} differs from hidden_size {bert.hidden_size}")

    st_meta = read_json(model_dir / "config_sentence_transformers.json", default={})
    query_prompt, document_prompt = _prompts(st_meta)
    for required in ("tokenizer.json", WEIGHTS_FILE):
        if not (model_dir / required).is_file():
            raise ModelFilesError(f"missing model file {model_dir / required}")
    return SentenceConfig(
        model_dir=model_dir,
        bert=bert,
        pooling=pooling,
        normalize=normalize,
        max_seq_length=max_seq_length,
        do_lower_case=bool(st_cfg.get("do_lower_case", False)),
        dimension=dimension,
        query_prompt=query_prompt,
        document_prompt=document_prompt,
    )


def _read_modules(model_dir: Path) -> dict[str, str]:
    """Module type -> its sub-directory. Without modules.json, sentence-transformers
    would wrap a plain HF model as Transformer + mean Pooling, with no Normalize."""
    path = model_dir / "modules.json"
    if not path.is_file():
        return {_ST + "Transformer": "", _ST + "Pooling": "1_Pooling"}
    with path.open(encoding="utf-8") as fh:
        entries = json.load(fh)
    if not isinstance(entries, list):
        raise ModelFilesError(f"{path} is not a JSON list")
    modules: dict[str, str] = {}
    for entry in sorted(entries, key=lambda item: int(item.get("idx", 0))):
        kind = str(entry.get("type", ""))
        if kind not in (_ST + "Transformer", _ST + "Pooling", _ST + "Normalize"):
            raise ModelFilesError(f"unsupported sentence-transformers module {kind!r} in {path}")
        modules[kind] = str(entry.get("path", ""))
    order = list(modules)
    if order[:2] != [_ST + "Transformer", _ST + "Pooling"]:
        raise ModelFilesError(f"{path} must list Transformer then Pooling (then optionally Normalize)")
    return modules


def _pooling_mode(cfg: Mapping[str, Any]) -> Pooling:
    modes = [key for key, value in cfg.items() if key.startswith("pooling_mode_") and value]
    if modes == ["pooling_mode_mean_tokens"]:
        mode: Pooling = "mean"
    elif modes == ["pooling_mode_cls_token"]:
        mode = "cls"
    else:
        raise ModelFilesError(f"unsupported pooling {modes or 'none'}: only mean or CLS pooling")
    if cfg.get("include_prompt", True) is False:
        raise ModelFilesError("pooling that leaves the prompt out (include_prompt: false) is not supported")
    return mode


def _prompts(meta: Mapping[str, Any]) -> tuple[str | None, str]:
    """The query and document prompts, chosen as sentence-transformers'
    ``encode_query`` / ``encode_document`` choose them: the "query" prompt, and the
    "document", "passage" or "corpus" prompt, else the default prompt, else none."""
    prompts = meta.get("prompts") or {}
    if not isinstance(prompts, dict):
        raise ModelFilesError("config_sentence_transformers.json: prompts must be an object")
    default_name = meta.get("default_prompt_name")
    default = str(prompts[default_name]) if default_name in prompts else None
    query = str(prompts["query"]) if "query" in prompts else default
    document = next((str(prompts[key]) for key in ("document", "passage", "corpus") if key in prompts), default)
    return query, document or ""


def load_weights(path: Path) -> dict[str, FloatArray]:
    """The encoder's tensors as float32 arrays keyed without any ``bert.``/``roberta.`` prefix."""
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ModelFilesError(f"missing weights file {path}")
    raw = load_file(str(path))
    if "embeddings.word_embeddings.weight" not in raw:
        for prefix in ("bert.", "roberta.", "model."):
            if prefix + "embeddings.word_embeddings.weight" in raw:
                raw = {k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix)}
                break
    return {key: np.ascontiguousarray(value, dtype=np.float32) for key, value in raw.items()}


def weight(weights: Mapping[str, FloatArray], key: str) -> FloatArray:
    try:
        return weights[key]
    except KeyError:
        raise ModelFilesError(f"weight {key!r} missing from the model file") from None


def read_json(path: Path, default: dict[str, Any] | None = None) -> dict[str, Any]:
    if not path.is_file():
        if default is not None:
            return default
        raise ModelFilesError(f"missing model file {path}")
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as error:
        raise ModelFilesError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise ModelFilesError(f"{path} is not a JSON object")
    return data
