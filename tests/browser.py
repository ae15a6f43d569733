"""Real headless Chromium for the tests of pages: Debian's `chromium` driven by Playwright's Python package.

Playwright's own browser download is never used (it cannot work here, and CI must not depend on
it): the browser is the system's /usr/bin/chromium, which scripts/ensure-chromium installs. When
either is missing the tests that need a browser are skipped with a message saying how to get it.

Screenshots go to $MOCKSERVER_SCREENSHOTS (default: test-artifacts/screenshots in the checkout).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.processes import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("MOCKSERVER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("MOCKSERVER_SCREENSHOTS") or REPO / "test-artifacts" / "screenshots")
WAIT_MS = 15_000  # any single thing a test waits for on a page


def require_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium (apt-get install chromium) to test the pages"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright's Python package is missing: pip install -e '.[test]' (never `playwright install`)")


@contextmanager
def browser_page(profile: Path, width: int = 1280, height: int = 800) -> Iterator[Page]:
    """A page in a fresh Chromium with an empty profile; an uncaught error in the page fails the test."""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # a busy CI machine (2 cores, several workers) is slower than 5 s
    errors: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            yield page
        finally:
            context.close()
    assert not errors, errors


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def wait_for(
    page: Page, expression: str, check: Callable[[Any], bool], what: str, timeout_s: float = WAIT_MS / 1000
) -> Any:
    """Evaluate `expression` in the page until `check` holds. The dashboard's Content-Security-Policy
    forbids eval, which Playwright's wait_for_function needs; page.evaluate goes through DevTools."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if check(value):
            return value
        page.wait_for_timeout(100)  # a poll interval, bounded by the deadline
    raise AssertionError(f"{what}: still {value!r} after {timeout_s}s")
