"""A resumable query's buffer and the ids it handed out, in SQL: read the buffer nearest
first, take a page out of it, store a start's first page (docs/resumable-queries.md)."""

from __future__ import annotations

from django.db import connection

from search.models import BufferedCandidate, Candidate, Component, ResumableQuery
from search.services.ranking import Hit


def buffered_rows(query: ResumableQuery, component: Component, limit: int) -> list[Candidate]:
    """The side's first `limit` buffered candidates, nearest first."""
    rows = (
        BufferedCandidate.objects.filter(query=query, component=component)
        .order_by("distance", "vector_id")
        .values_list("vector_id", "distance")[:limit]
    )
    return [Candidate(pk=pk, distance=distance) for pk, distance in rows]


def hand_out(
    query: ResumableQuery, components: list[Component], chosen: list[tuple[int, str]], dropped: list[int]
) -> set[str]:
    """Take the chosen (row, id) pairs and the dropped rows out of the buffers, and record
    the chosen ids as handed out, in one statement. Returns the ids this handle had not
    handed out before (a vector deleted and inserted anew comes back with a new row)."""
    if not chosen and not dropped:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH taken AS (DELETE FROM search_bufferedcandidate WHERE query_id = %s AND component = ANY(%s) "
            "               AND vector_id = ANY(%s)) "
            "INSERT INTO search_handedout (query_id, key, vector_id) "
            "SELECT %s, t.key, t.vector_id FROM unnest(%s::text[], %s::bigint[]) AS t(key, vector_id) "
            "ON CONFLICT DO NOTHING RETURNING key",
            [
                query.pk,
                [str(component) for component in components],
                [pk for pk, _ in chosen] + dropped,
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
