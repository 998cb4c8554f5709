"""A real browser for the UI tests: Debian's chromium driven by Playwright.

    pytestmark = BROWSER_MARKS

    with open_page(app_server.url, 1280, 900) as page:
        page.locator("#predict-button").click()

Screenshots go to SHOTS: a temporary folder, so a test run leaves the checkout as it was;
`bash scripts/screenshots.sh` points ALBERT_DEMO_SCREENSHOTS at docs/screenshots/ to
refresh the README's images.
"""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.harness.app import ROOT

CHROMIUM = "/usr/bin/chromium"
# One temporary folder per user, the same every run (no new folder per run).
SHOTS = Path(os.environ.get("ALBERT_DEMO_SCREENSHOTS")
             or Path(tempfile.gettempdir()) / f"albert-demo-screenshots-{os.getuid()}").resolve()
SHOTS.mkdir(parents=True, exist_ok=True)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.system,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: install Debian's chromium "
                              "(apt-get install -y chromium) to run the browser tests"),
]


@contextmanager
def open_browser():
    """A headless chromium, closed on leaving; skips the test when Playwright is missing."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(url, width=1366, height=1000, timeout=60_000, **page_options):
    """A page of a fresh browser at `url` (None: not navigated yet), `timeout` ms for every
    wait; `page_options` go to `new_page` (e.g. accept_downloads=True)."""
    with open_browser() as browser:
        page = browser.new_page(viewport={"width": width, "height": height}, **page_options)
        page.set_default_timeout(timeout)
        if url is not None:
            page.goto(url)
        yield page
