"""`/robots.txt` and the sitemap: every public landing page, split past the limit, cached."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import httpx
import pytest
from factories import create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, VersionStatus
from dandelion_common.db.models import User, Version
from dandelion_common.settings import Settings
from dandelion_web.pages import crawl

NS = {"s": crawl.XMLNS}


async def dandiset(
    session: AsyncSession, owner: User, *, assets: int = 1, embargoed: bool = False
) -> Version:
    status = EmbargoStatus.EMBARGOED if embargoed else EmbargoStatus.OPEN
    _, draft = await create_dandiset(session, owner=owner, embargo_status=status)
    draft.asset_count = assets
    draft.modified = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    await session.flush()
    return draft


async def publish(session: AsyncSession, draft: Version, version: str, day: int) -> Version:
    published = Version(
        dandiset_id=draft.dandiset_id,
        version=version,
        name=draft.name,
        metadata_=dict(draft.metadata_),
        status=VersionStatus.PUBLISHED,
        asset_count=draft.asset_count,
        modified=datetime(2026, 1, day, 12, tzinfo=UTC),
    )
    session.add(published)
    await session.flush()
    return published


def urls(document: bytes) -> dict[str, str | None]:
    """Each `<loc>` of a urlset with its `<lastmod>` (parsing also proves it is XML)."""
    root = ET.fromstring(document)
    assert root.tag == f"{{{crawl.XMLNS}}}urlset"
    return {
        url.findtext("s:loc", namespaces=NS) or "": url.findtext("s:lastmod", namespaces=NS)
        for url in root.findall("s:url", NS)
    }


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    user, _ = await create_user(session)
    return user


@pytest.fixture
def web_url(web_settings: Settings) -> str:
    return web_settings.instance.web_url.rstrip("/")


async def test_robots_allows_everything_and_names_the_sitemap(
    web_client: httpx.AsyncClient, web_url: str
) -> None:
    answer = await web_client.get("/robots.txt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert lines[:2] == ["User-agent: *", "Allow: /"]
    assert f"Sitemap: {web_url}/sitemap.xml" in lines


async def test_the_sitemap_names_published_versions_and_non_empty_drafts(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User, web_url: str
) -> None:
    published = await dandiset(session, owner)
    await publish(session, published, "0.260101.1200", day=1)
    await publish(session, published, "0.260102.1200", day=2)
    draft_only = await dandiset(session, owner)
    await dandiset(session, owner, assets=0)  # an empty draft: nothing to find
    await dandiset(session, owner, embargoed=True)
    answer = await web_client.get("/sitemap.xml")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    p, d = f"{published.dandiset_id:06}", f"{draft_only.dandiset_id:06}"
    assert urls(answer.content) == {
        f"{web_url}/dandiset/{p}/0.260101.1200": "2026-01-01T12:00:00+00:00",
        f"{web_url}/dandiset/{p}/0.260102.1200": "2026-01-02T12:00:00+00:00",
        f"{web_url}/dandiset/{p}/draft": "2026-01-05T08:30:00+00:00",
        f"{web_url}/dandiset/{d}/draft": "2026-01-05T08:30:00+00:00",
    }


async def test_embargoed_dandisets_are_never_in_the_sitemap(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    hidden = await dandiset(session, owner, embargoed=True)
    await publish(session, hidden, "0.260101.1200", day=1)
    answer = await web_client.get("/sitemap.xml")
    assert urls(answer.content) == {}
    assert f"{hidden.dandiset_id:06}" not in answer.text


def test_every_text_is_xml_escaped() -> None:
    entries = [crawl.Entry("/dandiset/000001/draft", "2026-01-01T00:00:00+00:00")]
    document = crawl.build(entries, "https://example.org/a&b<c>/")["sitemap.xml"]
    assert b"a&amp;b&lt;c&gt;" in document
    assert urls(document) == {
        "https://example.org/a&b<c>/dandiset/000001/draft": "2026-01-01T00:00:00+00:00"
    }


async def test_past_the_limit_the_sitemap_is_an_index_of_parts(
    web_client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    web_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crawl, "SITEMAP_LIMIT", 2)
    drafts = [await dandiset(session, owner) for _ in range(3)]
    await publish(session, drafts[0], "0.260103.1200", day=3)
    answer = await web_client.get("/sitemap.xml")
    assert answer.status_code == 200
    index = ET.fromstring(answer.content)
    assert index.tag == f"{{{crawl.XMLNS}}}sitemapindex"
    parts = [
        (s.findtext("s:loc", namespaces=NS), s.findtext("s:lastmod", namespaces=NS))
        for s in index.findall("s:sitemap", NS)
    ]
    assert parts == [
        (f"{web_url}/sitemap-1.xml", "2026-01-05T08:30:00+00:00"),
        (f"{web_url}/sitemap-2.xml", "2026-01-05T08:30:00+00:00"),
    ]
    listed: dict[str, str | None] = {}
    for n in (1, 2):
        part = await web_client.get(f"/sitemap-{n}.xml")
        assert part.status_code == 200
        assert part.headers["content-type"].startswith("application/xml")
        assert len(urls(part.content)) == 2
        listed |= urls(part.content)
    first = f"{drafts[0].dandiset_id:06}"
    assert set(listed) == {f"{web_url}/dandiset/{first}/0.260103.1200"} | {
        f"{web_url}/dandiset/{d.dandiset_id:06}/draft" for d in drafts
    }
    assert (await web_client.get("/sitemap-3.xml")).status_code == 404


async def test_a_short_sitemap_has_no_parts(web_client: httpx.AsyncClient) -> None:
    assert (await web_client.get("/sitemap-1.xml")).status_code == 404
    assert (await web_client.get("/sitemap-x.xml")).status_code == 404


async def test_the_sitemap_is_cached_until_it_is_stale(
    web_client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await dandiset(session, owner)
    first = await web_client.get("/sitemap.xml")
    later = await dandiset(session, owner)
    cached = await web_client.get("/sitemap.xml")
    assert cached.content == first.content
    assert f"{later.dandiset_id:06}" not in cached.text
    monkeypatch.setattr(crawl, "CACHE_SECONDS", 0)  # every answer is now stale
    fresh = await web_client.get("/sitemap.xml")
    assert f"{later.dandiset_id:06}" in fresh.text


async def test_the_walk_reads_every_page_of_the_api(
    web_client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(crawl, "WALK_PAGE_SIZE", 2)
    draft = await dandiset(session, owner)
    for day in range(1, 6):
        await publish(session, draft, f"0.26010{day}.1200", day=day)
    for _ in range(4):
        await dandiset(session, owner)
    answer = await web_client.get("/sitemap.xml")
    assert len(urls(answer.content)) == 5 + 1 + 4


async def test_an_unreachable_api_keeps_the_last_sitemap(
    web_client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await dandiset(session, owner)
    monkeypatch.setattr(crawl, "CACHE_SECONDS", 0)
    built = await web_client.get("/sitemap.xml")
    resources = web_client._transport.app.state.resources  # type: ignore[attr-defined]
    resources.archive.api_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    kept = await web_client.get("/sitemap.xml")
    assert kept.status_code == 200
    assert kept.content == built.content
    assert len(urls(kept.content)) == 1


async def test_an_unreachable_api_without_a_sitemap_is_a_502(
    web_client: httpx.AsyncClient,
) -> None:
    resources = web_client._transport.app.state.resources  # type: ignore[attr-defined]
    resources.archive.api_url = "http://127.0.0.1:9"
    assert (await web_client.get("/sitemap.xml")).status_code == 502
