"""The load and fault suite, small: a few clients for a few seconds against a real
two-worker gunicorn and a real Celery worker on the test database, one web worker killed
mid-run. (The database outage runs in `python -m bench.loadtest`, which owns its
database; here the server is the test run's.)"""

from __future__ import annotations

import json
from importlib.util import find_spec

import pytest

from bench.loadtest import parse_args, run_and_report

HAS_MATPLOTLIB = find_spec("matplotlib") is not None
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_a_killed_web_worker_costs_only_its_own_requests(tmp_path, capsys):
    args = parse_args(
        f"--clients 3 --seconds 5 --static-vectors 300 --page 100 --faults worker-kill --no-progress "
        f"--output-dir {tmp_path} --run-dir {tmp_path / 'run'}".split()
    )
    report = run_and_report(args, {"database": "pytest"})

    assert report["violations"] == [] and report["duplicate_ids"] == 0, report["violations"]
    assert report["writes"]["acknowledged"] > 0 and report["writes"]["lost"] == 0
    assert report["passed"]
    steady, killed = report["phases"]["steady"], report["phases"]["worker-kill"]
    for op in ("upsert", "query", "start", "next", "end"):
        assert steady["operations"][op]["statuses"].get("200", 0) > 0, op
        assert set(steady["operations"][op]["statuses"]) == {"200"}, op
    fault = killed["fault"]
    assert fault["killed_pid"] > 0 and fault["replacement_serving_after_s"] > 0
    # The other worker served while the killed one was replaced, handles included: one
    # started before the kill was drained to its end after it, every vector once.
    assert fault["recovery"]["ok_while_down"] > 0
    assert fault["handle_across_the_kill"] == {"returned": 300, "every_vector_exactly_once": True}
    assert json.loads((tmp_path / "loadtest.json").read_text())["phases"] == report["phases"]
    assert (tmp_path / "loadtest.png").exists() == HAS_MATPLOTLIB
    assert "PASSED" in capsys.readouterr().err
