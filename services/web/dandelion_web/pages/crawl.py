"""`/robots.txt` and `/sitemap.xml`: what search engines may crawl, and every landing page.

The sitemap lists what a visitor without an account can open and what is worth finding:
every published version (`/dandiset/{id}/{version}`, each a citable, immutable page) and
the draft of every public dandiset that holds data (its page is the live one, and for a
dandiset never published it is the only one). Empty drafts are left out, as the public list
hides them; embargoed dandisets never appear (the walk is anonymous, and the embargo status
is checked again, in case the API ever answered more). Each URL carries its version's
`modified` as `lastmod`, so crawlers revisit only what changed.

Past `SITEMAP_LIMIT` URLs (the protocol's 50,000) `/sitemap.xml` becomes a sitemap index of
`/sitemap-{n}.xml` parts; `/sitemap-{n}.xml` exists only then, so each URL has one home.
Building it walks the whole archive (the list in large pages, then `/versions/` of each
published dandiset, `CONCURRENCY` at a time), so the result is kept in process for
`CACHE_SECONDS`, and concurrent crawlers of a cold cache wait for one walk, not one each.
A walk that fails while an older sitemap is at hand keeps that one for another period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse, Response

from dandelion_common.web.routing import APIRouter
from dandelion_web.client import (
    ArchiveClient,
    UpstreamError,
    UpstreamGone,
    UpstreamNotFound,
    gather,
)
from dandelion_web.filters import parse_time
from dandelion_web.resources import Archive

router = APIRouter(responses={}, include_in_schema=False)
logger = logging.getLogger(__name__)

SITEMAP_LIMIT = 50_000
CACHE_SECONDS = 600
CONCURRENCY = 8
WALK_PAGE_SIZE = 1000
XMLNS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML = "application/xml"


@dataclass(frozen=True)
class Entry:
    path: str
    lastmod: str | None


@dataclass
class SitemapCache:
    """The documents of the last walk (`sitemap.xml` and any `sitemap-{n}.xml`)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    built_at: float | None = None
    documents: dict[str, bytes] = field(default_factory=dict)


def _cache(request: Request) -> SitemapCache:
    # Per app, not per module: each app (and each test's) has its own archive behind it.
    state = request.app.state
    if not hasattr(state, "sitemap_cache"):
        state.sitemap_cache = SitemapCache()
    cache: SitemapCache = state.sitemap_cache
    return cache


def _lastmod(value: str | None) -> str | None:
    moment = parse_time(value)
    return moment.isoformat() if moment else None


async def _pages(archive: ArchiveClient, path: str, params: dict[str, Any]) -> list[Any]:
    """Every result of a paginated API list."""
    results: list[Any] = []
    page = 1
    while True:
        body = await archive.api(path, {**params, "page": page, "page_size": WALK_PAGE_SIZE})
        results.extend(body["results"])
        if not body.get("next") or not body["results"]:
            return results
        page += 1


async def _published(
    archive: ArchiveClient, identifier: str, limit: asyncio.Semaphore
) -> list[Entry]:
    async with limit:
        try:
            versions = await _pages(archive, f"/dandisets/{identifier}/versions/", {})
        except (UpstreamNotFound, UpstreamGone):
            return []  # deleted since the list was read
    return [
        Entry(f"/dandiset/{identifier}/{v['version']}", _lastmod(v.get("modified")))
        for v in versions
        if v.get("version") != "draft"
    ]


async def walk(archive: ArchiveClient) -> list[Entry]:
    """Every landing page the sitemap names, in identifier order."""
    dandisets = await _pages(
        archive, "/dandisets/", {"ordering": "id", "draft": "true", "empty": "true"}
    )
    public = [d for d in dandisets if d.get("embargo_status") == "OPEN"]
    limit = asyncio.Semaphore(CONCURRENCY)
    published = await gather(
        *(
            _published(archive, d["identifier"], limit)
            for d in public
            if d.get("most_recent_published_version")
        )
    )
    by_identifier = iter(published)
    entries: list[Entry] = []
    for d in public:
        if d.get("most_recent_published_version"):
            entries.extend(next(by_identifier))
        draft = d.get("draft_version") or {}
        if draft.get("asset_count"):
            path = f"/dandiset/{d['identifier']}/draft"
            entries.append(Entry(path, _lastmod(draft.get("modified"))))
    return entries


def _element(tag: str, loc: str, lastmod: str | None) -> str:
    inner = f"<loc>{escape(loc)}</loc>"
    if lastmod:
        inner += f"<lastmod>{escape(lastmod)}</lastmod>"
    return f"<{tag}>{inner}</{tag}>"


def _document(root: str, children: list[str]) -> bytes:
    body = "\n".join(children)
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return f'{head}<{root} xmlns="{XMLNS}">\n{body}\n</{root}>\n'.encode()


def _url(base: str, path: str) -> str:
    return base + quote(path, safe="/")


def build(entries: list[Entry], web_url: str) -> dict[str, bytes]:
    """`sitemap.xml` alone, or an index and its `sitemap-{n}.xml` parts past the limit."""
    base = web_url.rstrip("/")
    urls = [_element("url", _url(base, e.path), e.lastmod) for e in entries]
    if len(urls) <= SITEMAP_LIMIT:
        return {"sitemap.xml": _document("urlset", urls)}
    documents: dict[str, bytes] = {}
    parts: list[str] = []
    for n, start in enumerate(range(0, len(urls), SITEMAP_LIMIT), start=1):
        name = f"sitemap-{n}.xml"
        documents[name] = _document("urlset", urls[start : start + SITEMAP_LIMIT])
        dates = [e.lastmod for e in entries[start : start + SITEMAP_LIMIT] if e.lastmod]
        # ISO dates of one zone (the API's UTC) sort as they compare.
        parts.append(_element("sitemap", f"{base}/{name}", max(dates, default=None)))
    documents["sitemap.xml"] = _document("sitemapindex", parts)
    return documents


async def sitemap_documents(request: Request, archive: ArchiveClient) -> dict[str, bytes]:
    cache = _cache(request)
    async with cache.lock:
        fresh = cache.built_at is not None and time.monotonic() - cache.built_at < CACHE_SECONDS
        if not fresh:
            web_url = request.app.state.settings.instance.web_url
            try:
                cache.documents = build(await walk(archive), web_url)
            except UpstreamError as exc:
                if not cache.documents:
                    raise
                # A stale sitemap serves crawlers better than an error while the API is down.
                logger.warning("web: sitemap kept from the last walk: %s", exc.message)
            cache.built_at = time.monotonic()
        return cache.documents


@router.get("/robots.txt", response_class=PlainTextResponse)
async def robots(request: Request) -> PlainTextResponse:
    """Everything may be crawled; the sitemap names every landing page."""
    web_url = request.app.state.settings.instance.web_url.rstrip("/")
    return PlainTextResponse(f"User-agent: *\nAllow: /\n\nSitemap: {web_url}/sitemap.xml\n")


@router.get("/sitemap.xml")
async def sitemap(request: Request, archive: Archive) -> Response:
    """The sitemap, or past the limit the index of its parts."""
    documents = await sitemap_documents(request, archive)
    return Response(documents["sitemap.xml"], media_type=XML)


@router.get("/sitemap-{part}.xml")
async def sitemap_part(part: str, request: Request, archive: Archive) -> Response:
    """One part of a sitemap too long for one document."""
    documents = await sitemap_documents(request, archive)
    document = documents.get(f"sitemap-{part}.xml") if part.isdigit() else None
    if document is None:
        raise HTTPException(404, "There is no such part of the sitemap.")
    return Response(document, media_type=XML)
