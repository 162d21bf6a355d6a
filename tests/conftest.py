"""Shared test fixtures: where the research data lives, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VOICELINE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path into ``../shared/data``; skips the calling test with a reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"research data not found at {path} (set VOICELINE_SHARED_DATA or place "
            "../shared/data beside the repository); synthetic known-answer tests still run"
        )
    return path


@pytest.fixture
def psychoacoustics_data() -> Path:
    return shared_path("psychoacoustics")


@pytest.fixture(scope="module")
def chromium_browser():
    """Headless Debian Chromium driven by Playwright, for one module of browser tests.

    Per module, not per session: Playwright's sync API keeps an event loop running in
    this thread while it is open, and other modules call ``asyncio.run``. Skips with the
    reason when the ``playwright`` package or ``/usr/lib/chromium/chromium`` is missing
    (``.ci/run`` installs both).
    """
    from test_console_support import chromium_or_skip, launch

    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()
