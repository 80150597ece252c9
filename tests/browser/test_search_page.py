"""The search page in a real browser: search, load more, leave, bad filter, expiry, the end.

VECSITE_UPDATE_SCREENSHOTS=1 rewrites the README's docs/images/search-page.png.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from django.utils import timezone

from search.models import Index, ResumableQuery
from tests.browser.conftest import SCREENSHOTS
from tests.page.corpus import embed_once, load_small_demo

__all__ = ["embed_once"]

pytestmark = pytest.mark.browser

QUERY = "serialize python objects to a JSON string"


@pytest.fixture
def demo_corpus(transactional_db: None, embed_once: None) -> Iterator[Index]:
    """The demo index with the first 200 entries of the real corpus (json, pathlib, datetime...)."""
    yield from load_small_demo(200)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def results(page: Any) -> list[tuple[str, float]]:
    items = page.locator("#results > li")
    return [
        (items.nth(i).get_attribute("data-result-id"), float(items.nth(i).get_attribute("data-score")))
        for i in range(items.count())
    ]


def search(page: Any, live_server: Any, query: str, filter_text: str = "") -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_role("searchbox", name="Search").fill(query)
    page.get_by_label("Metadata filter").fill(filter_text)
    page.get_by_role("searchbox", name="Search").press("Enter")  # the keyboard submits


def shown_count(page: Any, expected: int) -> None:
    page.wait_for_function("n => document.getElementById('result-count').dataset.count === String(n)", arg=expected)


def test_it_searches_and_loads_more_in_a_browser(demo_corpus, page, live_server, tmp_path) -> None:
    search(page, live_server, QUERY)
    shown_count(page, 10)
    assert page.locator("#result-count").inner_text() == "Showing 10 results."
    assert page.locator("#results > li").first.get_attribute("data-result-id").startswith("stdlib:json.")
    more = page.get_by_role("button", name="Load more", exact=True)
    for shown in (20, 30, 40):
        more.click()
        shown_count(page, shown)
    assert page.locator("#result-count").inner_text() == "Showing 40 results (10 more loaded)."
    seen = results(page)
    assert len(seen) == 40
    assert len({result_id for result_id, _ in seen}) == 40  # nothing repeats
    scores = [score for _, score in seen]
    assert all(later <= earlier for earlier, later in pairwise(scores))
    ranks = page.locator("#results .rank").all_inner_texts()
    assert ranks == [f"#{n}" for n in range(1, 41)]
    first = page.locator("#results > li").first
    assert first.locator(".title").inner_text() == seen[0][0].removeprefix("stdlib:")
    assert "module:json" in first.locator(".metadata").inner_text()
    assert page.locator("#result-count").get_attribute("aria-live") == "polite"
    query = ResumableQuery.objects.get()
    assert query.returned_count == 40 and query.query_text == QUERY

    # The README's picture is only rewritten on request, so test runs leave the tree clean.
    page.set_viewport_size({"width": 1100, "height": 1250})
    page.evaluate("window.scrollTo(0, 0)")
    folder = SCREENSHOTS if os.environ.get("VECSITE_UPDATE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "search-page.png"))
    assert (folder / "search-page.png").stat().st_size > 10_000

    # Leaving the page stops the search (a beacon on pagehide).
    page.goto(f"{live_server.url}/healthz")
    assert wait_for(lambda: not ResumableQuery.objects.exists())


def test_it_shows_a_bad_filter_next_to_the_field_in_a_browser(demo_corpus, page, live_server) -> None:
    search(page, live_server, QUERY, filter_text="kind = function")
    message = page.locator("#filter-error")
    message.wait_for(state="visible")
    assert message.inner_text().startswith("Unexpected token 'function' at position 7")
    field = page.get_by_label("Metadata filter")
    assert field.get_attribute("aria-invalid") == "true"
    assert "filter-error" in field.get_attribute("aria-describedby").split()
    assert page.evaluate("document.activeElement.id") == "id_filter"
    assert page.locator("#results > li").count() == 0
    assert not ResumableQuery.objects.exists()
    # Fixed, it searches and the message goes.
    field.fill("kind = 'function' AND module GLOB 'json*'")
    field.press("Enter")
    shown_count(page, 4)
    assert message.inner_text() == ""
    assert field.get_attribute("aria-invalid") is None


def test_it_offers_to_run_an_expired_search_again_in_a_browser(demo_corpus, page, live_server) -> None:
    search(page, live_server, QUERY)
    shown_count(page, 10)
    ResumableQuery.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page.get_by_role("button", name="Load more", exact=True).click()
    notice = page.locator("#expired")
    notice.wait_for(state="visible")
    assert "This search has expired" in notice.inner_text()
    assert page.locator("#load-more").is_hidden()
    rerun = page.get_by_role("button", name="Run the search again")
    assert page.evaluate("document.activeElement.id") == "rerun"
    page.keyboard.press("Enter")
    shown_count(page, 10)
    assert notice.is_hidden()
    assert rerun.is_hidden()
    assert page.locator("#results > li").first.get_attribute("data-result-id").startswith("stdlib:json.")
    assert ResumableQuery.objects.active().count() == 1
    page.get_by_role("button", name="Load more", exact=True).click()
    shown_count(page, 20)


def test_it_shows_the_end_of_the_results_in_a_browser(demo_corpus, page, live_server) -> None:
    vectors = demo_corpus.namespaces.get(name="").vectors
    matching = vectors.filter(metadata__module="collections.abc").count()
    assert 30 < matching < 40
    search(page, live_server, "abstract base classes for containers", filter_text="module = 'collections.abc'")
    shown_count(page, 10)
    more = page.get_by_role("button", name="Load more", exact=True)
    more.focus()
    for shown in (20, 30, matching):
        page.keyboard.press("Enter")  # the focus stays on the button
        shown_count(page, shown)
    end = page.locator("#end-state")
    end.wait_for(state="visible")
    assert end.inner_text() == f"End of results: all {matching} are shown."
    assert page.locator("#result-count").inner_text() == f"Showing all {matching} results."
    assert more.count() == 0 or more.is_hidden()
    assert page.evaluate("document.activeElement.id") == "end-state"
    assert len({result_id for result_id, _ in results(page)}) == matching
    assert not ResumableQuery.objects.exists()  # stopped by the server when the results ran out


def test_it_fits_a_phone_screen(demo_corpus, browser, live_server) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        search(page, live_server, QUERY, filter_text="kind = 'function' AND module GLOB 'json*'")
        shown_count(page, 4)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
        button = page.get_by_role("button", name="Search", exact=True).bounding_box()
        assert button["width"] > 300 and button["height"] >= 44
    finally:
        context.close()
