"""The `query` service: one nearest-neighbour query, or a batch of them."""

from __future__ import annotations

from collections.abc import Sequence

from search.errors import InvalidInput, ServiceError
from search.models import Component, Index, PartsUse
from search.services import embedding
from search.services.fusion import fuse
from search.services.namespaces import namespace_find
from search.services.planning import SearchPlan, hydrate
from search.services.records import StoredRecord
from search.services.specs import QuerySpec

# How many candidates each side contributes to a fused query: generous, since a record
# ranked below topK on one side can still win on the sum (docs/api.md#fusion).
FUSION_POOL = 100


def fusion_pool(top_k: int) -> int:
    return max(FUSION_POOL, 2 * top_k)


def query_resolve(*, index: Index, spec: QuerySpec) -> QuerySpec:
    """The spec checked against the index, its text (if any) embedded: what is searched."""
    if spec.data is not None:
        spec = embedding.embed_query(index=index, spec=spec)
    index.check_parts(spec.vector, spec.sparse, use=PartsUse.QUERY)
    if spec.weighting and spec.sparse is None:
        raise InvalidInput("applies to the sparse side of a query; none was given", field="weightingStrategy")
    return spec


def query(*, index: Index, spec: QuerySpec) -> list[StoredRecord]:
    """One query of whatever kind the index and the spec call for."""
    spec = query_resolve(index=index, spec=spec)
    namespace = namespace_find(index=index, name=spec.namespace)
    if namespace is None:
        return []
    plan = SearchPlan(index=index, namespace=namespace, spec=spec)
    if plan.fused:
        pool = fusion_pool(spec.top_k)
        dense = plan.scored(Component.DENSE, plan.candidates(Component.DENSE, limit=pool))
        sparse = plan.scored(Component.SPARSE, plan.candidates(Component.SPARSE, limit=pool))
        return hydrate(fuse(spec.fusion, dense, sparse)[: spec.top_k], spec.include)
    return plan.nearest_records(plan.single_component, spec.top_k)


def query_batch(*, index: Index, specs: Sequence[QuerySpec]) -> list[list[StoredRecord]]:
    """Several queries; an error names the failing one's position."""
    results = []
    for position, spec in enumerate(specs):
        try:
            results.append(query(index=index, spec=spec))
        except ServiceError as error:
            raise error.at(position) from None
    return results
