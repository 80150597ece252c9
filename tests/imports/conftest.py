"""Helpers for the bulk import tests: files of records, the command, and what got stored."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from search.models import Index
from search.services.records import Include, StoredRecord
from search.services.vectors import vectors_range

EVERYTHING = Include(vectors=True, metadata=True, data=True)


def write_jsonl(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def run_import(*args: str) -> str:
    out = StringIO()
    call_command("import_vectors", *args, stdout=out)
    return out.getvalue()


def stored(index: Index, namespace: str = "") -> list[StoredRecord]:
    """Every record of the namespace in range order, all parts, without the row ids."""
    records: list[StoredRecord] = []
    cursor = 0
    while True:
        next_cursor, page = vectors_range(
            index=index, namespace=namespace, cursor=cursor, limit=1000, prefix="", include=EVERYTHING
        )
        for record in page:
            record.pk = 0
        records += page
        if not next_cursor:
            return records
        cursor = int(next_cursor)


def hnsw_definition(index: Index) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index.hnsw_index_name])
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.fixture
def upsert_via_api(api):
    """Upsert items through the API's endpoint (as a client would): the reference."""

    def upsert(token: str, items: list[Any], namespace: str = "", command: str = "upsert") -> None:
        path = f"{command}/{namespace}" if namespace else command
        response = api(path, items, token=token)
        assert response.status_code == 200, response.json()

    return upsert
