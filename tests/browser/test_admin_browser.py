"""The admin in a real browser: log in, see the active resumable queries, stop one.

VECSITE_UPDATE_SCREENSHOTS=1 rewrites the README's docs/images/admin-active-queries.png.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from search.filtering import CompiledFilter
from search.models import ResumableQuery
from search.services.records import Include, RecordInput
from search.services.resumable import resumable_query_start
from search.services.specs import QuerySpec
from search.services.vectors import vectors_upsert
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

PASSWORD = "browser-admin-pw-1"


def start(
    index: Any, namespace: str, *, top_k: int, filter_text: str = "", max_idle: int = 3600, text: str = ""
) -> Any:
    spec = QuerySpec(
        namespace=namespace,
        vector=[0.6, 0.8],
        top_k=top_k,
        include=Include(metadata=True),
        filter=CompiledFilter.compile(filter_text),
    )
    handle = resumable_query_start(index=index, spec=spec, max_idle=max_idle).handle
    assert handle is not None
    if text:  # shown as a text query (this index has no model to embed it)
        ResumableQuery.objects.filter(uuid=handle).update(kind=ResumableQuery.Kind.TEXT, query_text=text)
    return handle


@pytest.fixture
def queries(transactional_db: None, make_index: Any) -> list[Any]:
    """Four real handles on two indexes: vector and text, filtered, one idle past its maxIdle."""
    books = make_index("books", dimension=2).index
    films = make_index("films", dimension=2).index
    genres = ["poetry", "prose", "drama"]
    for index, namespace, count in ((books, "", 40), (books, "fr", 12), (films, "", 25)):
        vectors_upsert(
            index=index,
            namespace=namespace,
            records=[
                RecordInput(
                    id=f"{namespace or 'doc'}-{i}",
                    vector=[1.0, i / 10 + 0.1],
                    metadata={"genre": genres[i % 3], "year": 1990 + i},
                )
                for i in range(count)
            ],
        )
    handles = [
        start(books, "", top_k=10, filter_text="genre = 'poetry' AND year > 1995", max_idle=3600),
        start(books, "fr", top_k=5, max_idle=600, text="poèmes d'amour"),
        start(films, "", top_k=20, max_idle=900),
        start(films, "", top_k=3, filter_text="genre != 'drama'", max_idle=120),
    ]
    now = timezone.now()
    # Make the list look lived-in: used a while ago, and one idle past its maxIdle.
    for minutes, handle in zip((2, 7, 11), handles[:3], strict=True):
        ResumableQuery.objects.filter(uuid=handle).update(
            created_at=now - timedelta(minutes=minutes + 20), last_used_at=now - timedelta(minutes=minutes)
        )
    ResumableQuery.objects.filter(uuid=handles[0]).update(expires_at=now + timedelta(minutes=58))
    ResumableQuery.objects.filter(uuid=handles[1]).update(expires_at=now + timedelta(minutes=3))
    ResumableQuery.objects.filter(uuid=handles[2]).update(expires_at=now + timedelta(minutes=4))
    ResumableQuery.objects.filter(uuid=handles[3]).update(
        created_at=now - timedelta(minutes=9),
        last_used_at=now - timedelta(minutes=3),
        expires_at=now - timedelta(minutes=1),
    )
    return handles


def log_in(page: Any, live_server: Any, next_url: str) -> None:
    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{next_url}")


def test_it_shows_the_active_queries_in_a_browser(page, live_server, queries, fast_password_hasher, tmp_path) -> None:
    # The screenshot needs the room: fold the admin's navigation sidebar away.
    page.add_init_script("window.localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page.set_viewport_size({"width": 1920, "height": 640})
    log_in(page, live_server, "/admin/search/resumablequery/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 4
    table = page.locator("#result_list").inner_text()
    for handle in queries:
        assert str(handle) in table
    assert "text: poèmes d'amour" in table
    assert "genre = 'poetry' AND year > 1995" in table
    assert "expired, not yet swept" in table
    assert page.locator("#changelist-filter").get_by_text("Expired, not yet swept").count() == 1
    # The README's picture is only rewritten on request, so test runs leave the tree clean.
    folder = SCREENSHOTS if os.environ.get("VECSITE_UPDATE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "admin-active-queries.png"), full_page=True)
    assert (folder / "admin-active-queries.png").stat().st_size > 10_000


def test_it_stops_a_query_with_the_button_in_a_browser(page, live_server, queries, fast_password_hasher) -> None:
    handle = queries[0]
    log_in(page, live_server, f"/admin/search/resumablequery/{handle}/change/")
    page.click("#stop-query")
    page.wait_for_url(f"{live_server.url}/admin/search/resumablequery/")
    assert f"Stopped resumable query {handle}." in page.locator(".messagelist").inner_text()
    assert page.locator("#result_list tbody tr").count() == 3
    assert not ResumableQuery.objects.filter(uuid=handle).exists()
