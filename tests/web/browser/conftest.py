"""Browser journeys: Debian's Chromium, driven by Playwright, on the real pages over HTTP
(tests/live_web.py serves them and says what every page must meet)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from live_web import LiveArchive, Watch, chromium_executable, live_archive, watched_context
from playwright.async_api import Browser, Page, async_playwright

from dandelion_api.resources import ApiResources
from dandelion_common.settings import Settings
from dandelion_search.api.resources import SearchResources


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        await browser.close()


@pytest.fixture(name="live_archive")
async def live_archive_fixture(
    settings: Settings, resources: ApiResources, search_resources: SearchResources
) -> AsyncIterator[LiveArchive]:
    async with live_archive(settings, resources, search_resources) as live:
        yield live


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
async def page(browser: Browser, watch: Watch) -> AsyncIterator[Page]:
    context = await watched_context(browser, watch)
    page = await context.new_page()
    yield page
    await context.close()
    watch.clean()
