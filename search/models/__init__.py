"""Data model: indexes, their namespaces and vectors, resumable query handles and bulk imports."""

from search.models.choices import Component, Fusion, IndexType, PartsUse, QueryMode, Similarity, Weighting
from search.models.demo import DemoLoad
from search.models.imports import ImportJob, ImportJobQuerySet
from search.models.indexes import (
    FLOAT32_ZERO_BELOW,
    HNSW_HALFVEC_MAX_DIM,
    HNSW_VECTOR_MAX_DIM,
    Index,
    IndexQuerySet,
    Namespace,
    default_max_active_queries,
)
from search.models.resumable import (
    BufferedCandidate,
    HandedOut,
    ResumableQuery,
    ResumableQueryQuerySet,
    SweepRun,
)
from search.models.vectors import DISTANCES, HNSW_MAX_EF_SEARCH, AnnScan, Candidate, Vector, VectorQuerySet

__all__ = [
    "DISTANCES",
    "FLOAT32_ZERO_BELOW",
    "HNSW_HALFVEC_MAX_DIM",
    "HNSW_MAX_EF_SEARCH",
    "HNSW_VECTOR_MAX_DIM",
    "AnnScan",
    "BufferedCandidate",
    "Candidate",
    "Component",
    "DemoLoad",
    "Fusion",
    "HandedOut",
    "ImportJob",
    "ImportJobQuerySet",
    "Index",
    "IndexQuerySet",
    "IndexType",
    "Namespace",
    "PartsUse",
    "QueryMode",
    "ResumableQuery",
    "ResumableQueryQuerySet",
    "Similarity",
    "SweepRun",
    "Vector",
    "VectorQuerySet",
    "Weighting",
    "default_max_active_queries",
]
