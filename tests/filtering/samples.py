"""Metadata documents shared by the filter tests."""

from __future__ import annotations

# The example record of docs/api.md#filter-examples.
DUNE: dict[str, object] = {
    "title": "Dune",
    "year": 1965,
    "rating": 4.6,
    "in_print": True,
    "tags": ["sf", "classic"],
    "author": {"name": "Herbert", "born": {"country": "US"}},
}
