"""IDF, RRF and DBSF against hand-computed figures (docs/api.md#sparse-scores, docs/api.md#fusion)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from search.services.fusion import distribution_based_score_fusion, fuse, reciprocal_rank_fusion
from search.services.namespaces import namespace_find
from search.services.records import RecordInput, SparseValue
from search.services.scoring import float32
from search.services.sparse import idf_weighted
from search.services.vectors import vectors_upsert


def test_it_scores_rrf_from_rank_zero():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3]])
    assert float32(fused[1]) == float32(1 / 60)
    assert float32(fused[3]) == 0.032795697  # rank 2 dense + rank 0 sparse
    assert float32(reciprocal_rank_fusion([[7], [7]])[7]) == 0.033333335


def test_it_maps_dbsf_with_the_sample_deviation():
    fused = distribution_based_score_fusion([[(1, 0.9), (2, 0.8)]])
    assert fused[1] == pytest.approx(0.5 + math.sqrt(2) / 12, abs=1e-6)
    assert fused[2] == pytest.approx(0.5 - math.sqrt(2) / 12, abs=1e-6)
    assert distribution_based_score_fusion([[(9, 3.0)]])[9] == 0.5


def test_it_orders_fused_ties_by_insertion():
    assert [key for key, _ in fuse("RRF", [(5, 1.0), (4, 0.9)], [(4, 2.0), (5, 1.0)])] == [4, 5]


def test_it_weights_sparse_queries_by_idf(make_index):
    index = make_index(dimension=None, index_type="SPARSE").index
    vectors_upsert(
        index=index,
        namespace="",
        records=[
            RecordInput(id="a", sparse=SparseValue(indices=[0, 1], values=[0.1, 0.2])),
            RecordInput(id="b", sparse=SparseValue(indices=[1], values=[0.3])),
            RecordInput(id="c", sparse=SparseValue(indices=[2], values=[0.5])),
        ],
    )
    namespace = namespace_find(index=index, name="")
    assert namespace is not None
    weighted = idf_weighted(namespace, SparseValue(indices=[0, 1], values=[0.1, 0.2]))
    idf0 = math.log((3 - 1 + 0.5) / (1 + 0.5) + 1)
    idf1 = math.log((3 - 2 + 0.5) / (2 + 0.5) + 1)
    assert weighted.values == pytest.approx([0.1 * idf0, 0.2 * idf1])
    # The hosted service's figure for record a (docs/api.md#sparse-scores): 0.1·0.1·idf0 + 0.2·0.2·idf1.
    assert str(np.float32(0.1 * 0.1 * idf0 + 0.2 * 0.2 * idf1)) == "0.028608438"
