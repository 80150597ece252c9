"""The demo index that `make run` makes sure exists."""

from __future__ import annotations

from search.models import Index
from search.services.indexes import index_create

DEMO_INDEX_NAME = "demo"
DEMO_DIMENSION = 384


def ensure_demo_index(*, name: str = DEMO_INDEX_NAME) -> Index:
    index = Index.objects.filter(name=name).first()
    if index is not None:
        return index
    # The tokens are not shown: `rotate_tokens demo` issues a pair when someone needs them.
    return index_create(name=name, dimension=DEMO_DIMENSION, similarity="COSINE").index
