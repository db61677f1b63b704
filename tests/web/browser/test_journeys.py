"""A visitor's journeys through the pages in a real browser (see conftest.py for the rules
every page meets: local requests only, no console errors, axe WCAG 2.1 AA clean)."""

from __future__ import annotations

from factories import create_dandiset, create_user
from live_web import LiveArchive, assert_accessible
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession


async def test_a_visitor_starts_at_home_with_the_keyboard(
    page: Page, live_archive: LiveArchive, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    await create_dandiset(session, owner=owner, name="Zebrafinch song")
    await page.goto(live_archive.web_url + "/")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await assert_accessible(page)
    # The first Tab reaches the skip link, which moves the focus past the navigation.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    # The search box is reachable and submits with Enter.
    await page.get_by_label("Search the archive").fill("zebrafinch")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/search?q=zebrafinch")

    answer = await page.goto(live_archive.web_url + "/no/such/page")
    assert answer is not None
    assert answer.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await assert_accessible(page)
