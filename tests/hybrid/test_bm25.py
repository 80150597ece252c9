"""BM25 sparse vectors against hand-computed figures."""

from __future__ import annotations

import pytest

from search.embedding import bm25


def test_it_tokenises_drops_stop_words_and_stems():
    assert bm25.tokens("The quick brown foxes are RUNNING over the lazy dogs!") == [
        "quick",
        "brown",
        "fox",
        "run",
        "lazi",
        "dog",
    ]


def test_it_weights_terms_with_length_normalisation():
    vector = bm25.embed_document("fox fox dog")
    weights = dict(zip(vector.indices, vector.values, strict=True))
    # |D| = 3, avgdl = 32: norm = 1 - 0.75 + 0.75 * 3 / 32
    norm = 0.25 + 0.75 * 3 / 32
    assert weights[bm25.term_index("fox")] == pytest.approx(2 * 2.2 / (2 + 1.2 * norm))
    assert weights[bm25.term_index("dog")] == pytest.approx(1 * 2.2 / (1 + 1.2 * norm))
    assert vector.indices == sorted(vector.indices)


def test_it_gives_query_terms_weight_one_and_stable_indices():
    query = bm25.embed_query("running running fox")
    assert query.values == [1.0, 1.0]
    assert set(query.indices) == {bm25.term_index("run"), bm25.term_index("fox")}
    assert all(0 <= i < 10**9 for i in query.indices)
    assert bm25.term_index("fox") == bm25.term_index("fox")


def test_it_embeds_text_of_only_stop_words_as_empty():
    assert bm25.embed_document("the and of").indices == []
