"""A resumable query's buffer and the ids it handed out, in SQL: read the buffer nearest
first, take a page out of it, store a start's first page (docs/resumable-queries.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection
from django.db.models.expressions import RawSQL

from search.models import BufferedCandidate, Candidate, Component, ResumableQuery
from search.services.ranking import Hit


@dataclass(frozen=True)
class BufferedRows:
    """A read of a side's buffer: its candidates nearest first, and the exact scores of
    those an earlier read already scored."""

    candidates: list[Candidate]
    scores: dict[int, float]


def buffered_rows(
    query: ResumableQuery, component: Component, limit: int, *, floor: float | None = None
) -> BufferedRows:
    """The side's first `limit` buffered candidates, nearest first, none nearer than
    `floor`: the index scan starts there rather than stepping over what was handed out."""
    rows = BufferedCandidate.objects.filter(query=query, component=component)
    if floor is not None:
        # The floor as a value the planner cannot see: it moves ahead of the table's
        # statistics, which then promise no row past it, and the planner would read the
        # whole buffer (and every deleted row in it) through the primary key and sort it,
        # not the first rows in (distance, row) order (measured: 40 ms against 0.2 ms).
        rows = rows.filter(distance__gte=RawSQL("SELECT %s::float8", [floor]))
    ordered = rows.order_by("distance", "vector_id").values_list("vector_id", "distance", "score")[:limit]
    candidates, scores = [], {}
    for pk, distance, score in ordered:
        candidates.append(Candidate(pk=pk, distance=distance))
        if score is not None:
            scores[pk] = score
    return BufferedRows(candidates, scores)


def hand_out(
    query: ResumableQuery,
    components: list[Component],
    chosen: list[tuple[int, str]],
    dropped: list[int],
    scores: Mapping[int, float] | None = None,
    *,
    window: tuple[float, float] = (-math.inf, math.inf),
) -> set[str]:
    """Take the chosen (row, id) pairs and the dropped rows out of the buffers, record the
    chosen ids as handed out, and keep the `scores` of rows that stay buffered (rows just
    scored), in one statement. Returns the ids this handle had not handed out before (a
    vector deleted and inserted anew comes back with a new row).

    `window`: the distances of the first and last rows of the read these rows come from
    (one side; every row by default). The rows are then looked up in the reading order's
    index within that range, not by a walk over every entry of the side it still holds:
    rows handed out stay in it until vacuum, and 50,000 deep that walk took 16 ms a call."""
    scores = scores or {}
    if not chosen and not dropped and not scores:
        return set()
    sides = [str(component) for component in components]
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH taken AS (DELETE FROM search_bufferedcandidate WHERE query_id = %s AND component = ANY(%s) "
            "               AND distance BETWEEN %s AND %s AND vector_id = ANY(%s)), "
            # Keyed like the DELETE, not a join, which the planner may turn into a scan of
            # the whole buffer.
            "     scored AS (UPDATE search_bufferedcandidate SET score = (%s::float8[])[array_position(%s::bigint[], vector_id)] "
            "               WHERE query_id = %s AND component = ANY(%s) AND distance BETWEEN %s AND %s "
            "               AND vector_id = ANY(%s::bigint[])) "
            "INSERT INTO search_handedout (query_id, key, vector_id) "
            "SELECT %s, t.key, t.vector_id FROM unnest(%s::text[], %s::bigint[]) AS t(key, vector_id) "
            "ON CONFLICT DO NOTHING RETURNING key",
            [
                query.pk,
                sides,
                *window,
                [pk for pk, _ in chosen] + dropped,
                list(scores.values()),
                list(scores),
                query.pk,
                sides,
                *window,
                list(scores),
                query.pk,
                [key for _, key in chosen],
                [pk for pk, _ in chosen],
            ],
        )
        return {key for (key,) in cursor.fetchall()}


def store_first_page(query: ResumableQuery, component: Component, rest: list[Candidate], chosen: list[Hit]) -> None:
    """Buffer a start's candidates (`rest`) and record its first page (`chosen`) as handed
    out, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH buffered AS (INSERT INTO search_bufferedcandidate (query_id, component, vector_id, distance) "
            "                  SELECT %s, %s, t.vector_id, t.distance "
            "                  FROM unnest(%s::bigint[], %s::float8[]) AS t(vector_id, distance)) "
            "INSERT INTO search_handedout (query_id, key, vector_id) "
            "SELECT %s, t.key, t.vector_id FROM unnest(%s::text[], %s::bigint[]) AS t(key, vector_id)",
            [
                query.pk,
                component,
                [c.pk for c in rest],
                [c.distance for c in rest],
                query.pk,
                [hit.record.id for hit in chosen],
                [hit.pk for hit in chosen],
            ],
        )
