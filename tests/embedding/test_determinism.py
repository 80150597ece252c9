"""What the product promises about identical texts (issue 13, item 6).

The hosted service scores a COSINE query as (1 + cos) / 2 in double precision, rounded
to float32 on output, and its SDK tests expect a stored text queried with the same text
to score exactly 1. So a text's vector must not depend on what it is embedded with:
alone or in a batch, at any position, beside any companions and whatever padding they
would need. These tests hold the embedder to that with varied batches rather than to
one machine's rounding: bit-identical vectors, and a score of exactly 1.0 through the
service's own scoring.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search.embedding import EmbeddingModel, get_model
from search.embedding.encoder import SentenceEncoder
from search.embedding.registry import _builtin_dir
from search.models import Similarity
from search.services.scoring import exact_dense_scores, float32

TEXT = "Deterministic embeddings make identical texts score exactly 1."
COMPANIONS = [
    "",
    "a",
    "short one",
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Zoë's café in Zürich serves crème brûlée — 東京タワー and naïve façades! 🚀",
    " ".join(f"filler sentence {i} about vectors, indexes and Postgres." for i in range(60)),  # truncated at 256
    "Postgres with pgvector stores embeddings; HNSW indexes make cosine search fast.",
    "identical texts",
    "Deterministic embeddings make identical texts score exactly 1",  # one token short of TEXT
]


@pytest.fixture(scope="module")
def model() -> EmbeddingModel:
    return get_model("ALL_MINILM_L6_V2")


def _batches() -> list[tuple[list[str], int]]:
    """TEXT at the start, middle and end of batches of sizes 2 to 64, beside companions
    shorter and longer than it (so a padded batch would pad it, or pad to it)."""
    cases: list[tuple[list[str], int]] = []
    for size in (2, 7, 33, 64):
        others = [f"{COMPANIONS[k % len(COMPANIONS)]} {k // len(COMPANIONS) or ''}" for k in range(size - 1)]
        for position in sorted({0, size // 2, size - 1}):
            cases.append(([*others[:position], TEXT, *others[position:]], position))
    return cases


@pytest.fixture(scope="module")
def embedded(model: EmbeddingModel) -> list[tuple[list[str], int, np.ndarray]]:
    return [(batch, position, model.embed_documents(batch)) for batch, position in _batches()]


def _score(a: np.ndarray, b: np.ndarray) -> float:
    """The score a COSINE index returns for stored vector ``b`` queried with ``a``."""
    scores = exact_dense_scores(Similarity.COSINE, a.tolist(), {1: b.tolist()})
    return float32(scores[1])


def test_it_gives_a_text_the_same_vector_alone_and_in_any_batch(
    model: EmbeddingModel, embedded: list[tuple[list[str], int, np.ndarray]]
) -> None:
    alone = model.embed_documents([TEXT])[0]
    for batch, position, vectors in embedded:
        np.testing.assert_array_equal(vectors[position], alone, err_msg=f"batch of {len(batch)}, position {position}")


def test_it_scores_a_text_against_itself_exactly_one_in_any_batch(
    model: EmbeddingModel, embedded: list[tuple[list[str], int, np.ndarray]]
) -> None:
    alone = model.embed_documents([TEXT])[0]
    for _, position, vectors in embedded:
        assert _score(alone, vectors[position]) == 1.0
        assert _score(vectors[position], alone) == 1.0
    positions = [vectors[position] for _, position, vectors in embedded]
    assert all(_score(a, b) == 1.0 for a in positions for b in positions)


def test_it_gives_every_member_of_a_batch_its_vector_alone(
    model: EmbeddingModel, embedded: list[tuple[list[str], int, np.ndarray]]
) -> None:
    batch, _, together = embedded[-1]  # 64 texts of mixed lengths
    alone = np.vstack([model.embed_documents([text]) for text in batch])
    np.testing.assert_array_equal(together, alone)


def test_it_is_repeatable(model: EmbeddingModel, embedded: list[tuple[list[str], int, np.ndarray]]) -> None:
    batch, _, vectors = embedded[3]
    np.testing.assert_array_equal(model.embed_documents(batch), vectors)


def test_it_still_tells_different_texts_apart(model: EmbeddingModel) -> None:
    a, b = model.embed_documents([TEXT, COMPANIONS[-1]])
    assert _score(a, b) < 1.0


def test_it_does_not_depend_on_the_number_of_threads(embedded: list[tuple[list[str], int, np.ndarray]]) -> None:
    batch, _, vectors = embedded[-1]
    for threads in (1, 3):
        encoder = SentenceEncoder(_builtin_dir(), threads=threads)
        np.testing.assert_array_equal(encoder.embed_documents(batch), vectors, err_msg=f"{threads} threads")


def test_it_gives_another_process_the_same_bits(embedded: list[tuple[list[str], int, np.ndarray]]) -> None:
    """A web worker embeds the query, a Celery worker embedded the document: another
    process, with other thread settings, must compute the same bits."""
    batch, position, vectors = embedded[-1]
    code = (
        "import sys, django; django.setup()\n"
        "from search.embedding import get_model\n"
        "sys.stdout.write(get_model('ALL_MINILM_L6_V2').embed_documents([sys.argv[1]])[0].tobytes().hex())\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "vecsite.settings",
        "VECSITE_EMBEDDING_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code, batch[position]], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout == vectors[position].tobytes().hex()


def test_it_scores_one_across_runtimes_whose_last_bits_differ() -> None:
    """Another CPU or runtime may round differently in the last bits; the score still
    rounds to exactly 1.0 (a cosine within ~6e-8 of 1 does)."""
    texts = [TEXT, *COMPANIONS[4:8]]
    onnx = SentenceEncoder(_builtin_dir(), runtime="onnxruntime").embed_documents(texts)
    plain = SentenceEncoder(_builtin_dir(), runtime="numpy").embed_documents(texts)
    assert not np.array_equal(onnx, plain)  # the two really do round differently
    for a, b in zip(onnx, plain, strict=True):
        assert _score(a, b) == 1.0
