"""The data endpoints on indexes made with embedding models, through the SDK."""

from __future__ import annotations

import asyncio

import pytest
from upstash_vector.errors import UpstashError
from upstash_vector.types import Data, QueryMode

DOCS = [
    ("cats", "Cats are small domesticated felines that purr.", {"kind": "animal"}),
    ("dogs", "Dogs are loyal animals that bark and fetch.", {"kind": "animal"}),
    ("rust", "Rust is a systems programming language focused on safety.", {"kind": "code"}),
    ("python", "Python is a programming language loved for readability.", {"kind": "code"}),
    ("paris", "Paris is the capital city of France.", {"kind": "place"}),
]


def upsert_docs(sdk, namespace: str = "") -> None:
    assert (
        sdk.upsert([Data(id=i, data=text, metadata=meta) for i, text, meta in DOCS], namespace=namespace) == "Success"
    )


@pytest.mark.parametrize("namespace", ["", "docs"])
def test_it_embeds_text_on_a_dense_model_index(live_index, namespace):
    live = live_index(dimension=None, embedding_model="ALL_MINILM_L6_V2")
    sdk = live.sdk()
    upsert_docs(sdk, namespace)
    hits = sdk.query(data="a programming language", top_k=2, include_data=True, namespace=namespace)
    assert {h.id for h in hits} == {"rust", "python"}
    assert hits[0].data in {DOCS[2][1], DOCS[3][1]}
    same = sdk.query(data=DOCS[4][1], top_k=1, namespace=namespace)[0]
    assert same.id == "paris" and same.score == 1
    first, handle = sdk.resumable_query(data="pets that make noises", top_k=2, namespace=namespace)
    with handle:
        rest = handle.fetch_next(10)
    ids = [h.id for h in first + rest]
    assert set(ids[:2]) == {"cats", "dogs"} and sorted(ids) == sorted(d[0] for d in DOCS)
    assert sdk.update(id="paris", data="Berlin is the capital of Germany.", namespace=namespace)
    assert sdk.query(data="German capital", top_k=1, namespace=namespace)[0].id == "paris"
    assert sdk.info().dense_index.embedding_model == "ALL_MINILM_L6_V2"
    assert sdk.info().dimension == 384


def test_it_embeds_text_with_bm25_on_a_sparse_index(live_index):
    sdk = live_index(dimension=None, index_type="SPARSE", sparse_embedding_model="BM25").sdk()
    upsert_docs(sdk)
    hits = sdk.query(data="programming languages", top_k=5)
    assert {h.id for h in hits} == {"rust", "python"}  # only records sharing a term
    assert sdk.info().sparse_index.embedding_model == "BM25"


def test_it_queries_a_hybrid_model_index_in_every_mode(live_index):
    sdk = live_index(
        dimension=None, index_type="HYBRID", embedding_model="ALL_MINILM_L6_V2", sparse_embedding_model="BM25"
    ).sdk()
    upsert_docs(sdk)
    hybrid = sdk.query(data="capital of France", top_k=1)
    dense = sdk.query(data="capital of France", top_k=1, query_mode=QueryMode.DENSE)
    sparse = sdk.query(data="capital of France", top_k=3, query_mode=QueryMode.SPARSE)
    assert hybrid[0].id == dense[0].id == "paris"
    assert [h.id for h in sparse] == ["paris"]
    first, handle = sdk.resumable_query(data="programming", top_k=1)
    with handle:
        ids = [h.id for h in first + handle.fetch_next(10)]
    assert len(ids) == len(set(ids)) == 5


def test_it_works_async_on_a_model_index(live_index):
    live = live_index(dimension=None, embedding_model="ALL_MINILM_L6_V2")

    async def run() -> list[str]:
        index = live.async_sdk()
        await index.upsert([Data(id=i, data=text) for i, text, _ in DOCS])
        first, handle = await index.resumable_query(data="felines", top_k=1)
        async with handle:
            more = await handle.fetch_next(1)
        return [h.id for h in first + more]

    assert asyncio.run(run())[0] == "cats"


def test_it_refuses_data_on_an_index_without_a_model(live_index):
    sdk = live_index(dimension=2).sdk()
    message = (
        "Embedding data for this index is not allowed. The index must be created with an embedding model to use it."
    )
    with pytest.raises(UpstashError, match=message):
        sdk.upsert([Data(id="a", data="text")])
    with pytest.raises(UpstashError, match=message):
        sdk.query(data="text")
    with pytest.raises(UpstashError, match=message):
        sdk.resumable_query(data="text")
