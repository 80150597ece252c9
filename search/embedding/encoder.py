"""Sentence embeddings from a sentence-transformers model directory, without torch.

``Transformer -> Pooling (mean or CLS) -> Normalize``, as the directory's own config
files say (see ``files``), with the query prompt applied to queries only.

**A text's vector depends on the text alone.** Every text is encoded on its own, with no
padding and no batch companions: in a padded batch, BLAS rounds a row differently by its
position in the matrix (on some CPUs every run), so the same text could get two vectors
a few ulps apart. Alone, a text always meets the same matrix shapes and (on ONNX Runtime)
the same single-threaded kernels, so its vector is bit-identical whether it is embedded
alone or in any batch, at any position, by any process on the machine; identical texts
therefore score exactly 1. (Another CPU may round the last bits differently: a cosine
that close to 1 still scores exactly 1 once the score is rounded to float32.) Encoding
alone also wastes nothing on padding, and the cores are used by running texts side by
side on a small thread pool (ONNX Runtime releases the GIL).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from .files import FloatArray, SentenceConfig, load_weights, read_sentence_config

Runtime = Literal["onnxruntime", "numpy"]
RUNTIMES: tuple[Runtime, ...] = ("onnxruntime", "numpy")
# Attention over n tokens holds heads x n x n floats: 4 GB for one of BGE-M3's 8,192-token
# texts. Texts longer than this run one at a time, so the pool cannot multiply that.
LONG_SEQUENCE = 2048


class _Encoder(Protocol):
    def hidden_states(self, ids: Sequence[int]) -> FloatArray: ...


def runtime_named(name: str) -> Runtime:
    """The runtime called ``name`` (a setting's value); ValueError for any other."""
    for runtime in RUNTIMES:
        if runtime == name:
            return runtime
    raise ValueError(f"unknown embedding runtime {name!r}; use one of {', '.join(RUNTIMES)}")


def default_threads() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class SentenceEncoder:
    """A loaded model: ``embed_documents`` and ``embed_queries``; thread-safe."""

    def __init__(
        self,
        model_dir: Path | str | SentenceConfig,
        *,
        name: str | None = None,
        runtime: Runtime = "onnxruntime",
        threads: int | None = None,
        query_prompt: str | None = None,
    ) -> None:
        """``query_prompt`` replaces the files' query prompt (``None`` keeps theirs)."""
        from tokenizers import Tokenizer

        config = model_dir if isinstance(model_dir, SentenceConfig) else read_sentence_config(model_dir)
        self.config = config
        self.model_dir = config.model_dir
        self.name = name or config.model_dir.name
        self.dimension = config.dimension
        self.max_seq_length = config.max_seq_length
        self.pooling = config.pooling
        self.query_prompt = (config.query_prompt or "") if query_prompt is None else query_prompt
        self.document_prompt = config.document_prompt
        self.runtime: Runtime = runtime
        # numpy's BLAS has threads of its own; a pool on top would oversubscribe the cores.
        self.threads = 1 if runtime == "numpy" else threads or default_threads()

        self._tokenizer = Tokenizer.from_file(str(config.tokenizer_path))
        # tokenizer.json may fix truncation/padding (all-MiniLM-L6-v2's says 128);
        # sentence-transformers truncates at max_seq_length and pads to the longest.
        self._tokenizer.enable_truncation(max_length=config.max_seq_length)
        self._tokenizer.no_padding()

        weights = load_weights(config.weights_path)
        self._encoder: _Encoder
        if runtime == "onnxruntime":
            from .onnx_bert import OnnxBert

            self._encoder = OnnxBert(config.bert, weights)
        elif runtime == "numpy":
            from .numpy_bert import NumpyBert

            self._encoder = NumpyBert(config.bert, weights)
        else:
            raise ValueError(f"unknown embedding runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()
        self._long_lock = threading.Lock()

    # ------------------------------------------------------------------ public

    def embed_documents(self, texts: Sequence[str]) -> FloatArray:
        """Vectors for texts to be stored: float32, shape ``(len(texts), dimension)``."""
        return self._embed(texts, self.document_prompt)

    def embed_queries(self, texts: Sequence[str]) -> FloatArray:
        """Vectors for texts to search with (the model's query prompt prepended, if any)."""
        return self._embed(texts, self.query_prompt)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """``embed_documents``. ``batch_size`` is checked and otherwise unused: it is kept
        for callers of the padded-batch encoder this replaced (every text now runs alone)."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        return self.embed_documents(texts)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids with the special tokens, truncated to ``max_seq_length``."""
        prepared = [str(t).strip() for t in texts]  # as sentence-transformers does
        if self.config.do_lower_case:
            prepared = [t.lower() for t in prepared]
        return [enc.ids for enc in self._tokenizer.encode_batch(prepared)]

    def hidden_states(self, text: str) -> FloatArray:
        """The encoder's last hidden states for one document text, before pooling."""
        return self._encoder.hidden_states(self.tokenize([self.document_prompt + text])[0])

    # ---------------------------------------------------------------- internals

    def _embed(self, texts: Sequence[str], prompt: str) -> FloatArray:
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of strings, not a single string")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        # sentence-transformers prepends the prompt, then strips and tokenises.
        ids = self.tokenize([prompt + str(text) for text in texts])
        rows: dict[tuple[int, ...], list[int]] = {}  # identical inputs are encoded once
        for row, row_ids in enumerate(ids):
            rows.setdefault(tuple(row_ids), []).append(row)
        # Longest first, so the last tasks handed out are the short ones (even finish).
        unique = sorted(rows, key=len, reverse=True)
        pool = self._executor() if len(unique) > 1 and self.threads > 1 else None
        vectors = pool.map(self._vector, unique) if pool is not None else map(self._vector, unique)
        for seq, vector in zip(unique, vectors, strict=True):
            out[rows[seq]] = vector
        return out

    def _vector(self, ids: Sequence[int]) -> FloatArray:
        if len(ids) > LONG_SEQUENCE:
            with self._long_lock:
                hidden = self._encoder.hidden_states(ids)
        else:
            hidden = self._encoder.hidden_states(ids)
        pooled: FloatArray = hidden[0] if self.pooling == "cls" else hidden.mean(axis=0, dtype=np.float32)
        if self.config.normalize:
            # torch.nn.functional.normalize: x / max(||x||, 1e-12)
            pooled = pooled / np.float32(max(float(np.linalg.norm(pooled)), 1e-12))
        return pooled

    def _executor(self) -> ThreadPoolExecutor:
        """The worker pool, made on first use in each process (a forked child cannot use
        its parent's threads)."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"embed-{self.name}")
                self._pool_pid = os.getpid()
            return self._pool
