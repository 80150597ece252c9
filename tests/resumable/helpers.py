"""Small helpers for starting resumable queries through the service in tests."""

from __future__ import annotations

import uuid

from search.models import Index
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert


def start_handles(index: Index, *max_idles: int) -> list[uuid.UUID]:
    """Put one vector in the default namespace and start one query per maxIdle given."""
    vectors_upsert(index=index, namespace="", records=[RecordInput(id="a", vector=[1.0, 0.0])])
    handles = []
    for max_idle in max_idles:
        spec = QuerySpec(vector=[1.0, 0.0], top_k=1, include=Include())
        handle = resumable_query_start(index=index, spec=spec, max_idle=max_idle).handle
        assert handle is not None
        handles.append(handle)
    return handles
