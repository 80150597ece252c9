"""all-MiniLM-L6-v2, run without torch, must reproduce sentence-transformers' embeddings.

The reference vectors come from ``tests/fixtures/make_minilm_reference.py`` (run
once by hand with torch); these tests need neither torch nor a database. Both runtimes
(ONNX Runtime, the default, and plain numpy) are held to the reference.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search.embedding import (
    HOSTED_MODELS,
    EmbeddingModel,
    UnknownModelError,
    available_models,
    get_model,
)
from search.embedding import encoder as encoder_module
from search.embedding.encoder import RUNTIMES, Runtime, SentenceEncoder
from search.embedding.registry import _builtin_dir

MODEL_NAME = "ALL_MINILM_L6_V2"
DIM = 384
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "minilm_reference.json"
MIN_COSINE = 0.99999  # brief asks >= 0.999; we reach ~0.99999994


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    with FIXTURE.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.fixture(scope="module")
def model() -> EmbeddingModel:
    return get_model(MODEL_NAME)


@pytest.fixture(scope="module", params=RUNTIMES)
def encoder(request: pytest.FixtureRequest) -> SentenceEncoder:
    runtime: Runtime = request.param
    return SentenceEncoder(_builtin_dir(), name=MODEL_NAME, runtime=runtime)


def _texts(reference: dict[str, Any]) -> list[str]:
    return [item["text"] for item in reference["items"]]


def _ref_vectors(reference: dict[str, Any]) -> np.ndarray:
    return np.array([item["vector"] for item in reference["items"]], dtype=np.float64)


def test_registry() -> None:
    assert MODEL_NAME in available_models()
    assert HOSTED_MODELS[MODEL_NAME].dimension == DIM


def test_get_model_is_cached_and_conforms(model: EmbeddingModel) -> None:
    assert get_model(MODEL_NAME) is model
    assert isinstance(model, EmbeddingModel)
    assert model.name == MODEL_NAME
    assert model.dimension == DIM


def test_concurrent_first_use_loads_once() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        models = list(pool.map(get_model, [MODEL_NAME] * 8))
    assert all(m is models[0] for m in models)


def test_concurrent_embed_calls_agree(model: EmbeddingModel) -> None:
    texts = [f"thread safety check number {i}" + " word" * i for i in range(12)]
    expected = model.embed_documents(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: model.embed_documents(texts), range(8)))
    for got in results:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ["all-minilm-l6-v2", "", "nope"])
def test_unknown_model_name(name: str) -> None:
    with pytest.raises(UnknownModelError, match="unknown embedding model") as info:
        get_model(name)
    assert isinstance(info.value, ValueError)
    assert "ALL_MINILM_L6_V2" in str(info.value)  # tells the caller what exists


def test_matches_sentence_transformers_reference(encoder: SentenceEncoder, reference: dict[str, Any]) -> None:
    assert reference["dimension"] == DIM
    ours = encoder.embed_documents(_texts(reference)).astype(np.float64)
    ref = _ref_vectors(reference)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)  # undo fixture rounding
    cosines = np.sum(ours * ref, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines[worst] >= MIN_COSINE, f"cosine {cosines[worst]:.7f} for {reference['items'][worst]['text'][:60]!r}"
    # Element-wise too, so a uniformly tiny drift can't hide behind the cosine.
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_long_text_is_truncated_like_reference(encoder: SentenceEncoder, reference: dict[str, Any]) -> None:
    long_item = max(reference["items"], key=lambda item: len(item["text"]))
    assert long_item["num_tokens"] == reference["max_seq_length"] == 256
    # Appending more text past the cut-off must not change the vector.
    base = encoder.embed_documents([long_item["text"]])
    longer = encoder.embed_documents([long_item["text"] + " completely different trailing words" * 20])
    np.testing.assert_array_equal(base, longer)


def test_output_shape_dtype_and_unit_length(model: EmbeddingModel) -> None:
    texts = ["one", "two words", "", "  ", "ünïcödé ✓", "x " * 400]
    for vecs in (model.embed_documents(texts), model.embed_queries(texts)):
        assert vecs.shape == (len(texts), DIM)
        assert vecs.dtype == np.float32
        assert np.all(np.isfinite(vecs))
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_empty_input(model: EmbeddingModel) -> None:
    vecs = model.embed_documents([])
    assert vecs.shape == (0, DIM)
    assert vecs.dtype == np.float32


def test_minilm_has_no_query_prompt(model: EmbeddingModel) -> None:
    texts = ["what is a vector index?", "Postgres"]
    np.testing.assert_array_equal(model.embed_queries(texts), model.embed_documents(texts))


def test_bad_batch_size() -> None:
    encoder = get_model(MODEL_NAME)
    assert isinstance(encoder, SentenceEncoder)
    with pytest.raises(ValueError, match="batch_size"):
        encoder.embed(["x"], batch_size=0)
    np.testing.assert_array_equal(encoder.embed(["x"], batch_size=1), encoder.embed_documents(["x"]))


def test_input_order_preserved(model: EmbeddingModel) -> None:
    texts = ["a much longer sentence with quite a few more tokens in it", "short", "medium text"]
    forward = model.embed_documents(texts)
    backward = model.embed_documents(texts[::-1])
    np.testing.assert_array_equal(forward, backward[::-1])


def test_semantics_sanity(model: EmbeddingModel) -> None:
    a, b, c = model.embed_documents(
        ["A man is playing a guitar.", "Someone plays an instrument.", "Stock prices fell."]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_rejects_bare_string(model: EmbeddingModel) -> None:
    with pytest.raises(TypeError):
        model.embed_documents("not a list")


def test_it_runs_long_texts_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Attention memory grows with the square of the length, so long texts must not pile up."""
    encoder = SentenceEncoder(_builtin_dir(), threads=4)
    monkeypatch.setattr(encoder_module, "LONG_SEQUENCE", 8)
    real = encoder._encoder.hidden_states
    lock = threading.Lock()
    running = {"long": 0, "peak_long": 0, "any": 0, "peak_any": 0}

    def tracked(ids: Sequence[int]) -> np.ndarray:
        kinds = ("long", "any") if len(ids) > 8 else ("any",)
        with lock:
            for kind in kinds:
                running[kind] += 1
                running[f"peak_{kind}"] = max(running[f"peak_{kind}"], running[kind])
        time.sleep(0.02)  # long enough for the pool to start the others meanwhile
        try:
            return real(ids)
        finally:
            with lock:
                for kind in kinds:
                    running[kind] -= 1

    monkeypatch.setattr(encoder._encoder, "hidden_states", tracked)
    texts = [f"a long text number {i} with many more words than eight tokens" for i in range(6)]
    texts += [f"short {i}" for i in range(6)]
    vectors = encoder.embed_documents(texts)
    assert running["peak_long"] == 1
    assert running["peak_any"] > 1  # the short ones did run side by side
    np.testing.assert_array_equal(vectors, get_model(MODEL_NAME).embed_documents(texts))
