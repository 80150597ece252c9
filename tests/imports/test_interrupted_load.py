"""A load killed mid-way (the process gone, no chance to clean up) resumes when run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.env import database_url
from search.models import ImportJob, Namespace, Vector
from tests.imports.conftest import hnsw_definition, run_import

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_it_resumes_a_load_whose_process_was_killed(tmp_path, make_index, settings):
    settings.VECSITE_HNSW_M, settings.VECSITE_HNSW_EF_CONSTRUCTION = 4, 8  # a quick graph to build
    index = make_index("killed", dimension=8).index
    definition = hnsw_definition(index)
    rows = 20_000
    np.save(tmp_path / "v.npy", np.random.default_rng(5).standard_normal((rows, 8)).astype(np.float32))
    (tmp_path / "ids.txt").write_text("".join(f"k{i}\n" for i in range(rows)))
    args = ["killed", str(tmp_path / "v.npy"), "--ids", str(tmp_path / "ids.txt"), "--batch-size", "250"]
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "manage.py", "import_vectors", *args], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while not ImportJob.objects.filter(index=index, lines_done__gte=2000).exists():
            assert process.poll() is None and time.monotonic() < deadline, "the load ended before it could be killed"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    job = ImportJob.objects.get(index=index)
    assert job.state == ImportJob.State.RUNNING and 2000 <= job.lines_done < rows
    assert Vector.objects.filter(index=index).count() == job.records_done  # whole batches only
    assert hnsw_definition(index) is None

    out = run_import(*args)

    assert f"Resuming the load of {tmp_path / 'v.npy'}" in out
    ns = Namespace.objects.get(index=index, name="")
    assert (ns.vector_count, ns.last_number) == (rows, rows)
    keys = list(Vector.objects.filter(index=index).order_by("number").values_list("key", flat=True))
    assert keys == [f"k{i}" for i in range(rows)]
    assert hnsw_definition(index) == definition
