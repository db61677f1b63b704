"""A visitor's journeys through the pages in a real browser (see conftest.py for the rules
every page meets: local requests only, no console errors, axe WCAG 2.1 AA clean)."""

from __future__ import annotations

from factories import create_asset, create_dandiset, create_user
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


async def test_the_dandiset_list_sorts_in_place_and_the_back_button_undoes_it(
    page: Page, live_archive: LiveArchive, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    for name in ("Bat sonar", "Ape gaze", "Cricket song"):  # created in this order
        _, draft = await create_dandiset(session, owner=owner, name=name)
        await create_asset(session, version=draft, path=f"{name}.nwb")  # the list hides empty ones
    await session.commit()
    await page.goto(live_archive.web_url + "/")
    await page.get_by_role("navigation", name="Site").get_by_role("link", name="Dandisets").click()
    await page.wait_for_url("**/dandiset/")
    rows = page.locator("table.dandisets tbody th a")
    await expect(rows).to_have_count(3)
    await assert_accessible(page)

    # With htmx a change of sort replaces the results only and records the state in the URL.
    await page.get_by_label("Sort by").select_option(label="Name")
    await expect(rows).to_have_text(["Cricket song", "Bat sonar", "Ape gaze"])
    await page.get_by_label("Order").select_option(label="Ascending")
    await expect(rows).to_have_text(["Ape gaze", "Bat sonar", "Cricket song"])
    assert "sortOption=2" in page.url
    assert "sortDir=1" in page.url
    await page.reload()  # the URL alone gives the same page
    await expect(rows).to_have_text(["Ape gaze", "Bat sonar", "Cricket song"])
    await expect(page.get_by_label("Order")).to_have_value("1")

    await page.go_back()
    await expect(rows).to_have_text(["Cricket song", "Bat sonar", "Ape gaze"])
    await expect(page.get_by_label("Order")).to_have_value("-1")
    await expect(page.get_by_label("Sort by")).to_have_value("2")
