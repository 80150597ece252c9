"""Bulk loads in the admin: how far each has got, read-only."""

from __future__ import annotations

import pytest
from django.core.management import CommandError
from django.test import Client

from search.models import ImportJob
from tests.imports.conftest import run_import, write_jsonl


def test_it_lists_a_failed_load_with_its_line_and_error(staff: Client, make_index, tmp_path) -> None:
    make_index("loads", dimension=2)
    path = write_jsonl(tmp_path / "load.jsonl", [{"id": "a", "vector": [1, 2]}, {"id": "b", "vector": [1]}])
    with pytest.raises(CommandError):  # line 2 stops the load
        run_import("loads", str(path), "--batch-size", "1")
    job = ImportJob.objects.get()

    listing = staff.get("/admin/search/importjob/").content.decode()
    detail = staff.get(f"/admin/search/importjob/{job.pk}/change/").content.decode()

    assert str(path) in listing and "failed" in listing
    assert "line 2: vector: Invalid vector dimension: 1, expected: 2" in detail
    assert staff.get("/admin/search/importjob/add/").status_code == 403
