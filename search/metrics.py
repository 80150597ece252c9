"""What an operator can scrape: Prometheus metrics of the API, resumable queries, the
sweeper and text embeddings (README: Metrics and logs).

The counters and histograms live in each process; under `manage.py serve` every web and
Celery process writes them to files in PROMETHEUS_MULTIPROC_DIR and a scrape adds them
up (prometheus-client's multi-process mode). Active handles are read from Postgres at
scrape time, so they are right whichever process made them.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count, Q
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from search.models import Index

logger = logging.getLogger(__name__)

# Seconds: from a fetch by id (a few ms) to a large upsert-data batch (tens of seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

API_REQUESTS = Counter(
    "vecsite_api_requests",
    "Requests to the Upstash REST API, by command and HTTP status.",
    ["command", "status"],
)
API_LATENCY = Histogram(
    "vecsite_api_request_duration_seconds",
    "Time to answer a request to the Upstash REST API, by command and HTTP status.",
    ["command", "status"],
    buckets=LATENCY_BUCKETS,
)
REFILLS = Histogram(
    "vecsite_resumable_refill_duration_seconds",
    "Refills of resumable queries' candidate buffers and their duration; `background` in a "
    "Celery task ahead of the client, `inline` while a `next` waited.",
    ["trigger"],
    buckets=LATENCY_BUCKETS,
)
SWEEPS = Counter(
    "vecsite_resumable_sweeps",
    "Sweeps of expired resumable queries, by trigger (beat, admin, command).",
    ["trigger"],
)
SWEPT = Counter(
    "vecsite_resumable_swept_rows",
    "Expired resumable queries deleted by sweeps.",
)
EMBEDDED_TEXTS = Counter(
    "vecsite_embedding_texts",
    "Texts embedded by a dense model, by model and purpose (document or query).",
    ["model", "purpose"],
)
EMBEDDING_SECONDS = Counter(
    "vecsite_embedding_seconds",
    "Seconds spent embedding texts with a dense model, by model and purpose.",
    ["model", "purpose"],
)


class ActiveHandlesCollector(Collector):
    """Active (unexpired) resumable handles per index, counted in Postgres at scrape time."""

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "vecsite_resumable_active_handles", "Resumable queries not yet expired, by index.", labels=["index"]
        )
        active = Count("resumable_queries", filter=Q(resumable_queries__expires_at__gt=timezone.now()))
        try:
            for name, count in Index.objects.annotate(active=active).values_list("name", "active").order_by("name"):
                family.add_metric([name], count)
        except DatabaseError:
            logger.exception("metrics: could not count the active resumable handles")
            return
        yield family


def scrape_registry() -> CollectorRegistry:
    """What /metrics exposes: every process's metrics (added up from PROMETHEUS_MULTIPROC_DIR
    when it is set, else this process's own) and the active handles."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # the library leaves it unannotated
    else:
        registry.register(REGISTRY)
    registry.register(ActiveHandlesCollector())
    return registry


def scrape_allowed(request: HttpRequest) -> bool:
    """A scrape must bring VECSITE_METRICS_TOKEN as a bearer token, or come from loopback
    (unless VECSITE_METRICS_ALLOW_LOOPBACK is off, as behind a proxy on the same host)."""
    token: str = settings.VECSITE_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    if not settings.VECSITE_METRICS_ALLOW_LOOPBACK:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
