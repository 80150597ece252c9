"""The bulk import bench in miniature, on pytest's database: every load runs (gunicorn and
the command as processes), is checked, and the report has its shape."""

from __future__ import annotations

import pytest

from bench import bulk_import

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_bulk_import_bench_runs_and_checks_every_load(tmp_path):
    args = bulk_import.parse_args(
        f"--vectors 600 --api-vectors 300 --dim 8 --clusters 4 --batch-size 100 --cache-dir {tmp_path / 'cache'} "
        f"--output-dir {tmp_path}".split()
    )

    report = bulk_import.run(args, command="smoke", database={"database": "pytest"})

    assert list(report["runs"]) == ["api", "import_jsonl", "import_npy", "import_jsonl_all"]
    for name, run in report["runs"].items():
        assert run["check"]["ok"], (name, run["check"])
        assert run["records_per_second"] > 0
    assert report["runs"]["import_jsonl_all"]["records"] == 600
    assert len(report["runs"]["api"]["batch_seconds"]) == 1
    assert report["runs"]["import_npy"]["seconds_in_command"] is not None
    assert set(report["ratios_to_api"]) == {"import_jsonl", "import_npy", "import_jsonl_all"}
    assert report["target"]["every_load_checked"]
