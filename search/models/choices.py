"""The closed vocabularies of the data model."""

from __future__ import annotations

from enum import Enum

from django.db import models


class Similarity(models.TextChoices):
    COSINE = "COSINE"
    EUCLIDEAN = "EUCLIDEAN"
    DOT_PRODUCT = "DOT_PRODUCT"


class IndexType(models.TextChoices):
    DENSE = "DENSE"
    SPARSE = "SPARSE"
    HYBRID = "HYBRID"


class Fusion(models.TextChoices):
    """How a hybrid query merges its dense and sparse results (docs/api.md#fusion)."""

    RRF = "RRF", "RRF"
    DBSF = "DBSF", "DBSF"


class Weighting(models.TextChoices):
    IDF = "IDF", "IDF"


class QueryMode(models.TextChoices):
    """Which parts of a text query a HYBRID index searches."""

    HYBRID = "HYBRID"
    DENSE = "DENSE"
    SPARSE = "SPARSE"


class Component(models.TextChoices):
    """A side of a search: dense vectors or sparse vectors."""

    DENSE = "d", "dense"
    SPARSE = "s", "sparse"


class PartsUse(Enum):
    """What the vector parts are for, which decides the rules of `Index.check_parts`."""

    QUERY = "query"
    RECORD = "record"
    UPDATE = "update"
