"""A real headless Chromium for browser tests (mark them with @pytest.mark.browser).

Debian's chromium is used as is: Playwright's own browser download is never run.

Playwright's sync API runs its event loop in a greenlet of the test thread, so while it
is started the thread looks "inside a running event loop": Django refuses ORM calls
(SynchronousOnlyOperation) and asyncio.run() fails. So the browser is shared by all the
tests in this package and stopped after the last of them (package scope): a browser kept
for the whole session broke every later test that calls asyncio.run(). For the same
reason DJANGO_ALLOW_ASYNC_UNSAFE is set only while it runs (the documented workaround
for Playwright + Django tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("VECSITE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for all the browser tests; each test opens its own context."""
    missing = None
    try:
        from playwright import sync_api
    except ImportError:
        missing = "playwright is not installed (pip install -r requirements.txt)"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set VECSITE_CHROMIUM)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the browser tests: {missing}")
        pytest.skip(missing)
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own cookies) in a wide window, closed after the test."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def fast_password_hasher(settings: Any) -> None:
    # The live server shares these settings; PBKDF2 would cost seconds per login here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
