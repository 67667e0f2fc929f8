"""Headless Chromium for the portal's browser tests (Playwright's sync API, Debian's chromium).

Register with ``pytest_plugins`` in the root conftest, or import ``browser`` and ``page`` into a test module.
Without Chromium or Playwright the tests are skipped, except on CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ENV = "AIRFLOW_A2I_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
_HOW_TO_ENABLE = ("install it as root with `apt-get install chromium chromium-driver` (or run `make test` as root, "
                  f"which installs it), or point {CHROMIUM_ENV} at a Chromium binary")


def chromium_path() -> Path:
    return Path(os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM)


def _unavailable(reason: str) -> NoReturn:
    """Skip locally; on CI a missing browser is a broken setup, not a reason to pass quietly."""
    message = f"browser tests need {reason}: {_HOW_TO_ENABLE}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# Module scope, never session: while Playwright's sync API is started, this thread counts as running an
# event loop, so asyncio.run() (triggers, aiobotocore, deferred tasks in dag.test()) would fail in every
# test that came after the first browser test.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no shared cookies or storage) and page for each test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def save_screenshot(page: Page, name: str, **options: Any) -> Path:
    """Save a full-page PNG to ``test-artifacts/screenshots/NAME.png`` in the repository root."""
    safe_name = re.sub(r"[^\w.-]+", "_", name).strip("._") or "screenshot"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{safe_name}.png"
    page.screenshot(path=str(path), full_page=True, **options)
    return path


def require_browser() -> Path:
    """Chromium's path, for tests that start their own browser (in another thread); skips or fails as above."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright Python package (pip install playwright; never `playwright install`)")
    executable = chromium_path()
    if not executable.is_file():
        _unavailable(f"Chromium at {executable}")
    return executable
