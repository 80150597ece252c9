"""Shared fixtures: indexes with real tokens and SDK clients against a live server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from upstash_vector import AsyncIndex
from upstash_vector import Index as SdkIndex

from search.models import Index
from search.services.indexes import IndexCredentials, IndexSpec, index_create, index_delete


@dataclass
class LiveIndex:
    credentials: IndexCredentials
    url: str

    @property
    def index(self) -> Index:
        return self.credentials.index

    @property
    def token(self) -> str:
        return self.credentials.token

    @property
    def readonly_token(self) -> str:
        return self.credentials.readonly_token

    def sdk(self, token: str | None = None) -> SdkIndex:
        return SdkIndex(url=self.url, token=token or self.token, retries=0)

    def async_sdk(self, token: str | None = None) -> AsyncIndex:
        return AsyncIndex(url=self.url, token=token or self.token, retries=0)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    # Live-server threads must not keep connections open past a test, or the test
    # database cannot be dropped at the end.
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    # One test database per run, so that runs side by side (two checkouts sharing a
    # server, a developer beside CI) never fight over it.
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_vecsite_{os.getpid()}"


@pytest.fixture(autouse=True)
def _refills_in_the_request(settings) -> None:
    # No Celery worker runs in most tests: `next` refills buffers itself. The tests of the
    # background refill turn it back on beside a real worker.
    settings.VECSITE_RESUMABLE_BACKGROUND_REFILL = False


@pytest.fixture(autouse=True)
def _no_page_rate_limit(settings) -> None:
    # Its counts live in a cache table that no test's flush empties, so tests from one
    # address would share them; tests/page/test_fair_shares.py turns it on.
    settings.VECSITE_PAGE_RATE = ""


@pytest.fixture(autouse=True, scope="session")
def _no_nagle_on_the_live_server() -> Iterator[None]:
    # The live server writes headers and body separately; with Nagle on, each response
    # waits out the client's delayed ACK (~40 ms), which dominates SDK tests' runtime.
    from django.core.servers.basehttp import WSGIRequestHandler

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
        yield


@pytest.fixture
def make_index(db: None) -> Iterator[Callable[..., IndexCredentials]]:
    """Create indexes for a test; their HNSW indexes are dropped afterwards."""
    made: list[Index] = []

    def make(
        name: str = "test-index", dimension: int | None = 2, similarity: str = "COSINE", **kwargs: object
    ) -> IndexCredentials:
        credentials = index_create(IndexSpec(name=name, dimension=dimension, similarity=similarity, **kwargs))  # type: ignore[arg-type]  # IndexSpec fields, as keywords
        made.append(credentials.index)
        return credentials

    yield make
    for index in made:
        if Index.objects.filter(pk=index.pk).exists():
            index_delete(index=index)


@pytest.fixture
def live_index(transactional_db: None, live_server, make_index) -> Callable[..., LiveIndex]:
    def make(name: str = "live", dimension: int | None = 2, similarity: str = "COSINE", **kwargs: object) -> LiveIndex:
        return LiveIndex(make_index(name, dimension, similarity, **kwargs), f"{live_server.url}/v1")

    return make


@pytest.fixture
def api(client):
    """POST JSON to the API with a bearer token through Django's test client."""

    def post(path: str, body: object = None, token: str | None = None, raw: str | bytes | None = None, **extra: object):
        import json

        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return client.generic(
            "POST", f"/v1/{path.lstrip('/')}", data, content_type="application/json", **headers, **extra
        )

    return post
