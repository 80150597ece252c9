"""The Prometheus endpoint: who may scrape it, and every metric moving with what it counts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from search.models import Component, ResumableQuery
from search.services.records import Include, RecordInput
from search.services.refill import resumable_refill
from search.services.resumable import resumable_query_next, resumable_query_start
from search.services.specs import QuerySpec
from search.services.sweeper import sweep_expired_resumable_queries
from search.services.vectors import vectors_upsert
from tests.resumable.helpers import start_handles
from tests.resumable.processes import ROOT, database_url

REMOTE = "203.0.113.7"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def test_it_serves_metrics_to_loopback(client, db) -> None:
    for address in ("127.0.0.1", "::1"):
        assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200


def test_it_refuses_other_addresses_without_the_token(client, db, settings) -> None:
    settings.VECSITE_METRICS_TOKEN = "scrape-secret"
    refused = client.get("/metrics", REMOTE_ADDR=REMOTE)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden" and "VECSITE_METRICS_TOKEN" in refused.json()["message"]
    wrong = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer not-it")
    assert wrong.status_code == 403
    basic = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Basic scrape-secret")
    assert basic.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_it_refuses_everyone_without_a_token_when_there_is_none(client, db, settings) -> None:
    settings.VECSITE_METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_it_refuses_loopback_when_told_to(client, db, settings) -> None:
    settings.VECSITE_METRICS_ALLOW_LOOPBACK = False
    settings.VECSITE_METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def test_it_counts_api_requests_by_command_and_status(api, make_index) -> None:
    token = make_index("counted", dimension=2).token
    before_ok = sample("vecsite_api_requests_total", command="upsert", status="200")
    before_denied = sample("vecsite_api_requests_total", command="query", status="401")
    before_latency = sample("vecsite_api_request_duration_seconds_count", command="upsert", status="200")
    assert api("upsert/books", {"id": "a", "vector": [0.1, 0.2]}, token=token).status_code == 200
    assert api("query", {"vector": [0.1, 0.2], "topK": 1}).status_code == 401
    assert api("no-such-command", {}, token=token).status_code == 404
    assert sample("vecsite_api_requests_total", command="upsert", status="200") == before_ok + 1
    assert sample("vecsite_api_requests_total", command="query", status="401") == before_denied + 1
    assert sample("vecsite_api_requests_total", command="unknown", status="404") >= 1
    assert sample("vecsite_api_request_duration_seconds_count", command="upsert", status="200") == before_latency + 1
    assert sample("vecsite_api_request_duration_seconds_sum", command="upsert", status="200") > 0


def test_it_logs_one_line_per_request_without_token_or_vector(api, make_index, caplog) -> None:
    credentials = make_index("logged", dimension=3)
    caplog.set_level("INFO", logger="vecsite.api")
    response = api("upsert/shelf", {"id": "a", "vector": [0.123456789, 0.987654321, 0.5]}, token=credentials.token)
    assert response.status_code == 200
    api("fetch", {"ids": ["a"], "includeVectors": True}, token=credentials.token)
    api("info", token="vs_wrong-token")
    lines = [record for record in caplog.records if record.name == "vecsite.api"]
    assert [record.api_request for record in lines] == [
        {"command": "upsert", "index": "logged", "namespace": "shelf", "status": 200, "ms": lines[0].api_request["ms"]},
        {"command": "fetch", "index": "logged", "namespace": "", "status": 200, "ms": lines[1].api_request["ms"]},
        {"command": "info", "index": None, "namespace": None, "status": 401, "ms": lines[2].api_request["ms"]},
    ]
    assert all(line.api_request["ms"] > 0 for line in lines)
    text = caplog.text
    for secret in (credentials.token, credentials.readonly_token, "vs_wrong-token", "0.123456789", "0.98765"):
        assert secret not in text
    assert '"command": "upsert", "index": "logged", "namespace": "shelf", "status": 200' in lines[0].getMessage()


def test_it_counts_active_handles_per_index_at_scrape_time(client, make_index) -> None:
    busy = make_index("busy", dimension=2).index
    make_index("idle", dimension=2)
    handles = start_handles(busy, 60, 60, 60)
    ResumableQuery.objects.filter(uuid=handles[0]).update(expires_at=timezone.now() - timedelta(seconds=1))
    samples = scrape(client)
    assert samples[("vecsite_resumable_active_handles", (("index", "busy"),))] == 2
    assert samples[("vecsite_resumable_active_handles", (("index", "idle"),))] == 0


def filled_index(make_index, count: int = 400):
    index = make_index("refilled", dimension=4).index
    rng = np.random.default_rng(3)
    records = [RecordInput(id=f"v{i}", vector=rng.normal(size=4).tolist()) for i in range(count)]
    vectors_upsert(index=index, namespace="", records=records)
    return index


def test_it_counts_refills_and_their_duration(make_index) -> None:
    index = filled_index(make_index)
    first = resumable_query_start(index=index, spec=QuerySpec(vector=[0.5] * 4, top_k=10, include=Include()))
    assert first.handle is not None
    background = sample("vecsite_resumable_refill_duration_seconds_count", trigger="background")
    assert resumable_refill(handle=first.handle, component=Component.DENSE) > 0
    assert sample("vecsite_resumable_refill_duration_seconds_count", trigger="background") == background + 1
    inline = sample("vecsite_resumable_refill_duration_seconds_count", trigger="inline")
    inline_seconds = sample("vecsite_resumable_refill_duration_seconds_sum", trigger="inline")
    resumable_query_next(index=index, handle=first.handle, additional_k=395)  # past what is buffered
    assert sample("vecsite_resumable_refill_duration_seconds_count", trigger="inline") > inline
    assert sample("vecsite_resumable_refill_duration_seconds_sum", trigger="inline") > inline_seconds


def test_it_counts_sweeps_and_rows_swept(make_index) -> None:
    index = make_index(dimension=2).index
    handles = start_handles(index, 60, 60, 60)
    ResumableQuery.objects.filter(uuid__in=handles[:2]).update(expires_at=timezone.now() - timedelta(seconds=1))
    sweeps, swept = (
        sample("vecsite_resumable_sweeps_total", trigger="admin"),
        sample("vecsite_resumable_swept_rows_total"),
    )
    sweep_expired_resumable_queries(trigger="admin")
    sweep_expired_resumable_queries(trigger="admin")
    assert sample("vecsite_resumable_sweeps_total", trigger="admin") == sweeps + 2
    assert sample("vecsite_resumable_swept_rows_total") == swept + 2


def test_it_counts_embedded_texts_and_seconds(api, make_index) -> None:
    token = make_index("texts", dimension=None, embedding_model="ALL_MINILM_L6_V2").token
    labels = {"model": "ALL_MINILM_L6_V2"}
    documents = sample("vecsite_embedding_texts_total", purpose="document", **labels)
    queries = sample("vecsite_embedding_texts_total", purpose="query", **labels)
    seconds = sample("vecsite_embedding_seconds_total", purpose="document", **labels)
    body = [{"id": "a", "data": "Cats purr."}, {"id": "b", "data": "Rust is a programming language."}]
    assert api("upsert-data", body, token=token).status_code == 200
    assert api("query-data", {"data": "felines", "topK": 1}, token=token).status_code == 200
    assert sample("vecsite_embedding_texts_total", purpose="document", **labels) == documents + 2
    assert sample("vecsite_embedding_texts_total", purpose="query", **labels) == queries + 1
    assert sample("vecsite_embedding_seconds_total", purpose="document", **labels) > seconds


@pytest.mark.django_db(transaction=True)
def test_it_adds_up_the_metrics_of_other_processes(client, tmp_path, monkeypatch) -> None:
    """Multi-process mode, as under `manage.py serve`: a sweep in another process shows in
    this process's scrape through PROMETHEUS_MULTIPROC_DIR."""
    env = {**os.environ, "DATABASE_URL": database_url(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run(
            [sys.executable, "manage.py", "sweep_resumable_queries"], cwd=ROOT, env=env, check=True, capture_output=True
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape(client)
    assert samples[("vecsite_resumable_sweeps_total", (("trigger", "command"),))] == 2
