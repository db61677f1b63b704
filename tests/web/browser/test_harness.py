"""The browser checks can fail: an axe violation, a CSP violation and a request to another
host are each caught (else a clean journey would prove nothing)."""

from __future__ import annotations

import pytest
from live_web import LiveArchive, Watch, assert_accessible, watched_context
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError


async def test_the_page_checks_catch_what_they_forbid(
    browser: Browser, live_archive: LiveArchive
) -> None:
    watch = Watch()
    context = await watched_context(browser, watch)
    page = await context.new_page()
    await page.goto(live_archive.web_url + "/")
    await page.evaluate(
        """() => {
            const input = document.createElement('input');  // a field with no label
            document.querySelector('main').append(input);
            const img = document.createElement('img');  // CSP refuses other origins too
            img.src = 'https://example.org/pixel.png';
            document.body.append(img);
            const script = document.createElement('script');  // inline script: CSP refuses it
            script.textContent = 'window.ran = true';
            document.body.append(script);
        }"""
    )
    await page.wait_for_timeout(200)  # let the aborted request and the CSP report arrive
    with pytest.raises(AssertionError, match="label"):
        await assert_accessible(page)
    assert await page.evaluate("window.ran === undefined")
    refused = [error for error in watch.errors if "Content Security Policy" in error]
    assert any("inline script" in error for error in refused), watch.errors
    assert any("example.org/pixel.png" in error for error in refused), watch.errors
    # What CSP does not cover, a navigation elsewhere, the route aborts and records.
    with pytest.raises(PlaywrightError):
        await page.goto("https://example.org/elsewhere")
    assert watch.foreign == ["https://example.org/elsewhere"]
    await context.close()
