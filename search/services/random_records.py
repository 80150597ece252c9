"""`random`: one record of a namespace drawn uniformly, without scanning the namespace.

Records are numbered 1, 2, ... within their namespace and numbers are never reused
(docs/api.md#range-cursors), so the live records are a subset of 1..last_number. A draw
picks numbers uniformly from that range and keeps the first that a record holds: each
record is then equally likely. Misses come from deleted records; enough numbers are
drawn at once (one indexed `= ANY` lookup) that a miss of all is rare, and a namespace
that has lost almost all its records is drawn from by position instead.
"""

from __future__ import annotations

import math
import secrets

from search.models import Index, Vector
from search.services.namespaces import namespace_find
from search.services.records import Include, StoredRecord
from search.services.vectors import records_by_pk

# Numbers drawn per lookup: enough that all miss with probability about e^-8, at most this.
MAX_DRAWS = 1000
ROUNDS = 3
RANDOM_INCLUDE = Include(vectors=True)


def vectors_random(*, index: Index, namespace: str) -> StoredRecord | None:
    """A uniformly drawn record with its vector part(s), or None for an empty (or missing) namespace."""
    ns = namespace_find(index=index, name=namespace)
    if ns is None or ns.vector_count <= 0 or ns.last_number <= 0:
        return None
    count, last = ns.vector_count, ns.last_number
    draws_per_round = min(MAX_DRAWS, math.ceil(8 * last / count))
    for _ in range(ROUNDS):
        draws = [1 + secrets.randbelow(last) for _ in range(draws_per_round)]
        found = dict(Vector.objects.filter(namespace=ns, number__in=set(draws)).values_list("number", "pk"))
        pk = next((found[number] for number in draws if number in found), None)
        record = records_by_pk([pk], RANDOM_INCLUDE).get(pk) if pk is not None else None
        if record is not None:  # else deleted since the lookup: draw again
            return record
    # Almost every number misses: draw a position in number order instead.
    position = secrets.randbelow(count)
    pks = list(
        Vector.objects.filter(namespace=ns).order_by("number").values_list("pk", flat=True)[position : position + 1]
    )
    return records_by_pk(pks, RANDOM_INCLUDE).get(pks[0]) if pks else None
