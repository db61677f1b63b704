"""The visitor's journey, end to end in Chromium: from the home page's search box through a
faceted search to a file, its dandiset's landing page, the file browser and the file's
bytes; the back button restoring the search; the landing page without JavaScript. Every
page template on the way is checked by axe (WCAG 2.1 AA); the search and the file browser
are used with the keyboard alone.

The data is written as the API and the ingest worker write it: assets created through the
API (so its folder tree exists), their blobs' bytes in the real S3, NWB extractions with the
facts the search facets count, and the search outbox drained into the PostgreSQL index.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import auth
from factories import create_blob, create_dandiset, create_extract, create_user
from live_web import LiveArchive, Watch, assert_accessible, watched_context
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.session import Database
from dandelion_common.storage import S3Storage, blob_key
from dandelion_search.api.resources import SearchResources
from dandelion_search.indexer import drain

NAME = "Place cells of the hippocampus"
DESCRIPTION = (
    "Tetrode recordings from hippocampal area CA1 of freely moving mice and rats, "
    "with the animals' positions, sorted units and local field potentials."
)
# path -> (bytes, species, sex): two facets (species and sex) single out one file.
FILES = {
    "sub-01/sub-01_ses-1_ecephys.nwb": (b"mouse one, female", "Mus musculus", "F"),
    "sub-02/sub-02_ses-1_ecephys.nwb": (b"mouse two, male", "Mus musculus", "M"),
    "sub-03/sub-03_ses-1_ecephys.nwb": (b"a rat, female", "Rattus norvegicus", "F"),
}
TARGET = "sub-01/sub-01_ses-1_ecephys.nwb"


@dataclass
class Published:
    identifier: str
    asset_ids: dict[str, str]

    @property
    def landing(self) -> str:
        return f"/dandiset/{self.identifier}/draft"


@pytest.fixture
async def archive_data(
    session: AsyncSession,
    api_client: httpx.AsyncClient,
    storage: S3Storage,
    db: Database,
    search_resources: SearchResources,
) -> Published:
    owner, key = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, name=NAME)
    draft.metadata_ = {
        **draft.metadata_,
        "description": DESCRIPTION,
        "keywords": ["place cells", "CA1"],
        "license": ["spdx:CC-BY-4.0"],
        "contributor": [
            {"name": "Tonegawa, Ada", "schemaKey": "Person", "roleName": ["dcite:Author"]}
        ],
    }
    identifier = f"{dandiset.id:06}"
    ids = {}
    for path, (content, species, sex) in FILES.items():
        blob = await create_blob(session, content=content)
        await storage.put(blob_key(blob.id), content)
        extract = await create_extract(session, blob, metadata=_extracted())
        extract.species, extract.sex, extract.neurodata_types = species, sex, ["Units"]
        body = {
            "blob_id": str(blob.id),
            "metadata": {"path": path, "encodingFormat": "application/x-nwb"},
        }
        url = f"/api/dandisets/{identifier}/versions/draft/assets/"
        answer = await api_client.post(url, json=body, headers=auth(key))
        assert answer.status_code == 200, answer.text
        ids[path] = answer.json()["asset_id"]
    await session.commit()
    await drain(db, search_resources.search)
    return Published(identifier, ids)


def _extracted() -> dict[str, Any]:
    return {
        "approach": [{"name": "electrophysiological approach"}],
        "measurementTechnique": [{"name": "spike sorting technique"}],
        "variableMeasured": [{"value": "Units"}],
    }


async def tab_to(page: Page, target: Locator, *, limit: int = 80) -> None:
    """Press Tab until `target` has the focus: it is reachable with the keyboard alone."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} is not reached by {limit} presses of Tab")


async def test_a_visitor_finds_a_file_by_its_facts_and_downloads_it(
    page: Page, live_archive: LiveArchive, archive_data: Published
) -> None:
    web = live_archive.web_url
    await page.goto(web + "/")
    await page.get_by_label("Search the archive").fill("hippocampus")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/search\?q=hippocampus"))
    await expect(page.get_by_role("link", name=NAME)).to_be_visible()
    await assert_accessible(page)

    # Files rather than dandisets, then two facets, with the keyboard alone.
    await tab_to(page, page.get_by_role("link", name=re.compile(r"^Files")))
    await page.keyboard.press("Enter")
    hits = page.locator("ol.hits > li")
    await expect(hits).to_have_count(3)
    mouse = page.get_by_role("checkbox", name=re.compile(r"^Mus musculus"))
    await tab_to(page, mouse)
    await page.keyboard.press("Space")
    await expect(hits).to_have_count(2)
    female = page.get_by_role("checkbox", name=re.compile(r"^female"))
    await tab_to(page, female)
    await page.keyboard.press("Space")
    await expect(hits).to_have_count(1)
    await expect(hits.first).to_contain_text(TARGET)
    searched = page.url
    assert "species=Mus+musculus" in searched
    assert "sex=F" in searched
    await expect(mouse).to_be_checked()
    await assert_accessible(page)

    # The hit's dandiset: its landing page, then back to the search as it was.
    link = hits.first.get_by_role("link", name=NAME)
    assert await link.get_attribute("href") == archive_data.landing
    await link.click()
    await page.wait_for_url(f"**{archive_data.landing}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(NAME)
    await assert_accessible(page)
    await page.go_back()
    await page.wait_for_url(searched)
    await expect(hits).to_have_count(1)
    await expect(page.get_by_role("checkbox", name=re.compile(r"^Mus musculus"))).to_be_checked()
    await expect(page.get_by_role("checkbox", name=re.compile(r"^female"))).to_be_checked()
    await page.go_forward()
    await page.wait_for_url(f"**{archive_data.landing}")

    # The file browser, by keyboard: into the folder, then the file's bytes.
    await page.get_by_role("link", name="Browse the files").click()
    await page.wait_for_url(re.compile(r"/files$"))
    await assert_accessible(page)
    await tab_to(page, page.get_by_role("link", name="sub-01/"))
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"location=sub-01"))
    name = TARGET.rsplit("/", 1)[1]
    await expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    await assert_accessible(page)
    download = page.get_by_role("link", name=f"Download {name}")
    async with page.expect_download() as started:
        await download.click()
    saved = await (await started.value).path()
    assert await asyncio.to_thread(Path(saved).read_bytes) == FILES[TARGET][0]

    # The file's own page.
    await page.get_by_role("link", name=name, exact=True).click()
    await page.wait_for_url(f"**/assets/{archive_data.asset_ids[TARGET]}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    await assert_accessible(page)


async def test_the_landing_page_is_complete_without_javascript(
    browser: Browser, live_archive: LiveArchive, archive_data: Published
) -> None:
    watch = Watch()
    context = await watched_context(browser, watch, java_script_enabled=False)
    page = await context.new_page()
    answer = await page.goto(live_archive.web_url + archive_data.landing)
    assert answer is not None
    assert answer.status == 200
    await expect(page.get_by_role("heading", level=1)).to_have_text(NAME)
    await expect(page.get_by_text(DESCRIPTION)).to_be_visible()
    await expect(page.get_by_text("Tonegawa, Ada").first).to_be_visible()
    command = f"dandi download {live_archive.web_url}{archive_data.landing}"
    await expect(page.get_by_text(command)).to_be_visible()
    structured = await page.locator('script[type="application/ld+json"]').text_content()
    assert structured is not None
    assert NAME in structured
    await expect(page.get_by_text("How to cite")).to_be_visible()
    # The version picker is a form: without JavaScript it submits and lands on the version.
    await page.get_by_role("button", name="Show this version").click()
    await page.wait_for_url(live_archive.web_url + archive_data.landing)  # redirected, no query
    # (axe runs as page script, which this context refuses; the journey checks this page.)
    await context.close()
    watch.clean()


async def test_every_kind_of_page_is_accessible(
    page: Page, live_archive: LiveArchive, archive_data: Published
) -> None:
    """The templates the journeys above do not reach: the list, an error, a bad search."""
    web = live_archive.web_url
    for path in (
        "/dandiset/",
        "/dandiset/search?search=hippocampus",
        "/dandiset/999999/draft",
        "/search?q=hippocampus&age_min=abc",
    ):
        await page.goto(web + path)
        await assert_accessible(page)
