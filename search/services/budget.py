"""A work budget for one request (docs/api.md#limits): how many results a query request
may ask for, checked before any work, and how large its answer may grow.

The answer's size is estimated from what is known before the search (the results asked
for, and their vectors' dimension when `includeVectors`), and measured once the records
are read (metadata and data can be anything up to their caps), before anything is
written out. A resumable query is checked before it starts only: once a batch is handed
out it is the client's, so it is answered whatever its size."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings

from search.errors import InvalidInput
from search.models import Index
from search.services.records import StoredRecord, metadata_size
from search.services.specs import QuerySpec

# Rough bytes of a record on the wire: its id, score and punctuation; a float32 in its
# shortest text form with its comma; a sparse entry (index, value and two commas).
RECORD_BYTES = 64
DIMENSION_BYTES = 12
SPARSE_ENTRY_BYTES = 20


def query_budget_check(*, index: Index, specs: Sequence[QuerySpec]) -> None:
    """Refuse a query request (one query or a batch) that asks for more results, or a
    larger answer, than one request may; before any search runs."""
    results = sum(spec.top_k for spec in specs)
    limit = settings.VECSITE_MAX_QUERY_RESULTS
    if results > limit:
        asked = f"the {len(specs)} queries ask for {results:,} results in all" if len(specs) > 1 else f"{results:,}"
        raise InvalidInput(
            f"{asked}, more than the {limit:,} one request may (VECSITE_MAX_QUERY_RESULTS); ask for fewer at a time",
            field="topK",
        )
    per_vector = DIMENSION_BYTES * (index.dimension or 0)
    estimate = sum(spec.top_k * (RECORD_BYTES + (per_vector if spec.include.vectors else 0)) for spec in specs)
    _check_size(estimate, "includeVectors" if any(spec.include.vectors for spec in specs) else "topK")


def answer_size_check(records: Iterable[StoredRecord | None]) -> None:
    """Refuse an answer larger than one response may hold, naming the part that weighs
    most; after the records are read (each holds only the parts asked for), before they
    are written out."""
    parts = {"topK": 0, "includeVectors": 0, "includeMetadata": 0, "includeData": 0}
    for record in records:
        if record is None:
            continue
        parts["topK"] += RECORD_BYTES
        parts["includeVectors"] += DIMENSION_BYTES * len(record.vector or [])
        parts["includeVectors"] += SPARSE_ENTRY_BYTES * (len(record.sparse.indices) if record.sparse else 0)
        parts["includeMetadata"] += metadata_size(record.metadata) if record.metadata is not None else 0
        parts["includeData"] += len(record.data or "")
    _check_size(sum(parts.values()), max(parts, key=lambda part: parts[part]))


def _check_size(size: int, field: str) -> None:
    limit = settings.VECSITE_MAX_RESPONSE_BYTES
    if size > limit:
        advice = "ask for fewer results" if field == "topK" else f"ask for fewer results or leave out {field}"
        raise InvalidInput(
            f"the answer would be about {size:,} bytes, more than the {limit:,} one response may hold "
            f"(VECSITE_MAX_RESPONSE_BYTES); {advice}",
            field=field,
        )
