"""The demo corpus loads beside serving, chunk by chunk: the page answers while it loads,
searches what is loaded so far, and a load carries on where it stopped."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client

from search.models import DemoLoad, Index, Vector
from search.services.demo import demo_entries, demo_load, ensure_demo_index
from search.services.demo_load import demo_load_begin, demo_load_chunk, demo_progress
from search.services.indexes import index_delete

CORPUS = 60


@pytest.fixture
def loading(db: None, embed_once: None, settings: Any) -> Any:
    """The demo index with its load begun over a corpus of the first 60 entries."""
    settings.VECSITE_DEMO_LIMIT = CORPUS
    settings.VECSITE_DEMO_CHUNK = 20
    index, _ = ensure_demo_index()
    yield demo_load_begin(index=index)
    index_delete(index=index)


def keys(index: Index) -> list[str]:
    return sorted(Vector.objects.filter(index=index).values_list("key", flat=True))


def test_it_serves_the_page_and_searches_what_is_loaded_while_the_demo_loads(loading: DemoLoad) -> None:
    chunk = demo_load_chunk(load_id=loading.pk)
    assert chunk is not None and (chunk.progress.loaded, chunk.progress.total, chunk.progress.done) == (20, 60, False)
    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Loading the corpus in the background: 20 of 60 docstrings so far (33%)." in html
    assert 'data-loaded="20" data-total="60"' in html and "Searches cover what is loaded." in html
    assert visitor.get("/search/progress").json() == {"loaded": 20, "total": 60, "done": False, "percent": 33}
    # A search for an entry not loaded yet, by its own text: the loaded part answers.
    later = demo_entries(limit=CORPUS)[50]
    found = search(visitor, later.data)
    assert found and set(found) <= {entry.id for entry in demo_entries(limit=20)}
    for _ in range(2):
        demo_load_chunk(load_id=loading.pk)
    assert search(visitor, later.data)[0] == later.id  # once loaded, it is the best match


def search(visitor: Client, text: str) -> list[str]:
    response = visitor.post("/search/start", {"q": text[:200]}, HTTP_X_CSRFTOKEN=visitor.cookies["csrftoken"].value)
    assert response.status_code == 200, response.content
    return [result["id"] for result in response.json()["results"]]


def test_it_stops_showing_progress_once_loaded(loading: DemoLoad, client: Client) -> None:
    for _ in range(3):
        demo_load_chunk(load_id=loading.pk)
    progress = demo_progress()
    assert progress is not None and (progress.loaded, progress.done, progress.percent) == (60, True, 100)
    assert 'id="demo-load"' not in client.get("/").content.decode()
    assert client.get("/search/progress").json() == {"loaded": 60, "total": 60, "done": True, "percent": 100}


def test_it_carries_on_where_a_load_stopped(loading: DemoLoad) -> None:
    first = demo_load_chunk(load_id=loading.pk)
    assert first is not None and first.embedded == 20
    # A restart: a new process picks the load up from its row alone.
    second = demo_load_chunk(load_id=loading.pk)
    assert second is not None and second.embedded == 20 and second.progress.loaded == 40
    assert keys(loading.index) == sorted(entry.id for entry in demo_entries(limit=40))
    third = demo_load_chunk(load_id=loading.pk)
    assert third is not None and third.progress.done and third.progress.loaded == 60
    again = demo_load_chunk(load_id=loading.pk)  # a task queued twice: nothing to do
    assert again is not None and again.embedded == 0 and again.progress.loaded == 60
    assert DemoLoad.objects.get().finished_at is not None
    assert loading.index.namespaces.get(name="").vector_count == 60


def test_it_does_not_embed_again_what_the_index_holds(loading: DemoLoad) -> None:
    demo_load(index=loading.index, entries=demo_entries(limit=30))  # loaded before progress was kept
    first = demo_load_chunk(load_id=loading.pk)
    second = demo_load_chunk(load_id=loading.pk)
    assert first is not None and second is not None
    assert (first.embedded, second.embedded, second.progress.loaded) == (0, 10, 40)


def test_it_goes_on_when_the_corpus_grows_past_a_finished_load(loading: DemoLoad, settings: Any) -> None:
    settings.VECSITE_DEMO_LIMIT = 20
    done = demo_load_chunk(load_id=loading.pk)
    assert done is not None and done.progress.done and done.progress.total == 20
    settings.VECSITE_DEMO_LIMIT = CORPUS
    more = demo_load_chunk(load_id=loading.pk)
    assert more is not None and not more.progress.done and (more.progress.loaded, more.progress.total) == (40, 60)


def test_it_shows_the_load_in_the_admin(loading: DemoLoad, admin_client: Client, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo_load_chunk(load_id=loading.pk)
    html = admin_client.get("/admin/search/demoload/").content.decode()
    assert "20 of 60 entries (33%)" in html and "loading" in html
    DemoLoad.objects.filter(pk=loading.pk).update(error="RuntimeError: the disk is full")
    html = admin_client.get("/admin/search/demoload/").content.decode()
    assert "stopped by an error" in html and "the disk is full" in html


@pytest.mark.django_db(transaction=True)
def test_it_leaves_a_load_another_process_holds(embed_once: None, settings: Any) -> None:
    settings.VECSITE_DEMO_LIMIT = CORPUS
    index, _ = ensure_demo_index()
    load = demo_load_begin(index=index)
    try:
        with psycopg.connect(**other_connection_params(), autocommit=False) as other:
            # Another process loading a chunk holds the load's row: this one leaves it be
            # (that one carries on), and does not wait for it.
            other.execute("SELECT 1 FROM search_demoload WHERE id = %s FOR NO KEY UPDATE", [load.pk])
            assert demo_load_chunk(load_id=load.pk, size=10) is None
            other.rollback()
        after = demo_load_chunk(load_id=load.pk, size=10)
        assert after is not None and after.progress.loaded == 10
    finally:
        index_delete(index=index)


def other_connection_params() -> dict[str, Any]:
    params = connection.get_connection_params()
    return {key: params[key] for key in ("dbname", "user", "host", "port", "password") if params.get(key)}
