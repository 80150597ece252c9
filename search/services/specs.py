"""What crosses the seam between the edges and the query services: a query spec in,
records or a resumable batch out. Each edge (API serializer, page form, benchmark)
builds a spec once; the services never read wire-format dicts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from search.filtering import CompiledFilter
from search.models import Fusion, QueryMode, Weighting
from search.services.records import Include, SparseValue, StoredRecord


@dataclass(frozen=True)
class QuerySpec:
    """One nearest-neighbour query. A text query carries `data` (embedded by the index's
    models, `mode` saying which parts on a HYBRID index) instead of `vector`/`sparse`."""

    namespace: str = ""
    vector: list[float] | None = None
    sparse: SparseValue | None = None
    data: str | None = None
    mode: QueryMode = QueryMode.HYBRID
    top_k: int = 10
    include: Include = field(default_factory=Include)
    filter: CompiledFilter | None = None
    weighting: Weighting | None = None
    fusion: Fusion = Fusion.RRF

    @property
    def fused(self) -> bool:
        return self.vector is not None and self.sparse is not None


@dataclass(frozen=True)
class ResumableBatch:
    """One batch of a resumable query. `handle` is None for a query on a namespace that
    does not exist; `returned` counts this handle's results so far, this batch included;
    `finished` says nothing is left after this batch."""

    handle: uuid.UUID | None
    records: list[StoredRecord]
    include: Include
    returned: int
    finished: bool
