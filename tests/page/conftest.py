from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from search.models import Index
from tests.page.corpus import embed_once, load_small_demo

__all__ = ["embed_once"]


@pytest.fixture
def demo_index(db: None, embed_once: None) -> Iterator[Index]:
    """The demo index holding the first 60 entries (json, pathlib, ...) of the corpus."""
    yield from load_small_demo(60)


@pytest.fixture
def visitor() -> Client:
    """A browser session that has opened the page, so it holds a CSRF cookie; CSRF is
    checked as in production."""
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    return client
