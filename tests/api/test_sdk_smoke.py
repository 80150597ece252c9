from __future__ import annotations


def test_it_round_trips_through_the_sdk(live_index):
    idx = live_index().sdk()
    assert idx.upsert([("a", [0.1, 0.2], {"k": 1}, "alpha"), ("b", [0.9, 0.1])]) == "Success"
    results = idx.query(vector=[0.1, 0.2], top_k=2, include_metadata=True, include_vectors=True, include_data=True)
    assert [r.id for r in results] == ["a", "b"]
    assert results[0].score == 1
    assert results[0].vector == [0.1, 0.2]
    assert results[0].metadata == {"k": 1}
    assert results[0].data == "alpha"
    info = idx.info()
    assert info.vector_count == 2
