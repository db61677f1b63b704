"""The home page and the pages every request can meet: errors, /server-info, headers."""

from __future__ import annotations

import httpx
import pytest
from factories import create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_web.pages import home
from dandelion_web.security import CONTENT_SECURITY_POLICY


async def test_home_shows_counts_and_a_search_box(
    web_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    await create_dandiset(session, owner=owner, name="Zebrafinch song")
    answer = await web_client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert '<form class="searchbox" action="/search"' in html
    assert "<dt>Dandisets</dt><dd>1</dd>" in html


async def test_every_page_carries_the_security_headers(web_client: httpx.AsyncClient) -> None:
    for path in ("/", "/no/such/page", "/static/style.css"):
        answer = await web_client.get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


async def test_an_unknown_address_is_a_real_404_page(web_client: httpx.AsyncClient) -> None:
    answer = await web_client.get("/no/such/page")
    assert answer.status_code == 404
    assert "<h1>Not found</h1>" in answer.text
    assert '<meta name="robots" content="noindex">' in answer.text


async def test_server_info_is_the_apis_info_document(web_client: httpx.AsyncClient) -> None:
    # The dandi client resolves a web URL to its API through this document.
    answer = await web_client.get("/server-info")
    assert answer.status_code == 200
    assert answer.json()["services"]["api"]["url"].endswith("/api")


async def test_an_unreachable_api_is_a_502_page(web_client: httpx.AsyncClient) -> None:
    resources = web_client._transport.app.state.resources  # type: ignore[attr-defined]
    resources.archive.api_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    answer = await web_client.get("/")
    assert answer.status_code == 502
    assert "cannot be reached" in answer.text


async def test_pages_and_assets_are_compressed_for_browsers_that_ask(
    web_client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/static/htmx.min.js"):
        answer = await web_client.get(path, headers={"Accept-Encoding": "gzip"})
        assert answer.headers["content-encoding"] == "gzip"
        assert int(answer.headers["content-length"]) < len(answer.content)  # decoded size
        assert answer.headers["content-security-policy"]


async def test_the_counts_are_kept_a_minute_not_summed_per_visit(
    web_client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, _ = await create_user(session)
    await create_dandiset(session, owner=owner, name="First")
    assert "<dt>Dandisets</dt><dd>1</dd>" in (await web_client.get("/")).text
    await create_dandiset(session, owner=owner, name="Second")
    assert "<dt>Dandisets</dt><dd>1</dd>" in (await web_client.get("/")).text  # kept
    monkeypatch.setattr(home, "STATS_SECONDS", 0.0)
    assert "<dt>Dandisets</dt><dd>2</dd>" in (await web_client.get("/")).text
