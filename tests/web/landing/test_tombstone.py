"""A deleted dandiset's landing pages answer 410 with a tombstone over the real API: its name
(escaped), none for one deleted while embargoed, and 404 still for one that never existed;
the tombstone route is asked only after the dandiset route's 404."""

from __future__ import annotations

import httpx
from conftest import auth
from factories import create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus

NOINDEX = '<meta name="robots" content="noindex">'


async def _delete(api_client: httpx.AsyncClient, identifier: str, key: str) -> str:
    """Delete the dandiset through the API; the day of its deletion, as the page shows it."""
    deleted = await api_client.delete(f"/api/dandisets/{identifier}/", headers=auth(key))
    assert deleted.status_code == 204
    assert (await api_client.get(f"/api/dandisets/{identifier}/")).status_code == 404
    tombstone = await api_client.get(f"/api/dandisets/{identifier}/tombstone/")
    return str(tombstone.json()["deleted"])[:10]


async def test_a_deleted_dandisets_pages_are_410_tombstones_naming_it(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner, name="Short-lived study")
    identifier = f"{dandiset.id:06}"
    assert (await web_client.get(f"/dandiset/{identifier}/draft")).status_code == 200
    day = await _delete(api_client, identifier, key)

    for path in (f"/dandiset/{identifier}/draft", f"/dandiset/{identifier}/0.240101.0000"):
        answer = await web_client.get(path)
        assert answer.status_code == 410, path
        assert f"Dandiset {identifier}, “Short-lived study”, was deleted on {day}." in answer.text
        assert "no longer available" in answer.text
        assert NOINDEX in answer.text
        assert "<h1>Gone</h1>" in answer.text
    # `/dandiset/{id}` would redirect to the landing page; a deleted one is the tombstone.
    answer = await web_client.get(f"/dandiset/{identifier}")
    assert answer.status_code == 410
    assert "“Short-lived study”" in answer.text


async def test_a_hostile_name_on_a_tombstone_stays_text(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    hostile = "<script>alert('x')</script></p><img src=x onerror=alert(1)>"
    dandiset, _ = await create_dandiset(session, owner=owner, name=hostile)
    identifier = f"{dandiset.id:06}"
    await _delete(api_client, identifier, key)

    for path in (f"/dandiset/{identifier}/draft", f"/dandiset/{identifier}"):
        answer = await web_client.get(path)
        assert answer.status_code == 410, path
        assert "<script>alert" not in answer.text
        assert "<img src=x" not in answer.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;/p&gt;&lt;img" in answer.text


async def test_a_dandiset_deleted_while_embargoed_is_gone_without_its_name(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(
        session, owner=owner, name="Secret study", embargo_status=EmbargoStatus.EMBARGOED
    )
    identifier = f"{dandiset.id:06}"
    day = await _delete(api_client, identifier, key)

    for path in (f"/dandiset/{identifier}/draft", f"/dandiset/{identifier}"):
        answer = await web_client.get(path)
        assert answer.status_code == 410, path
        assert f"Dandiset {identifier} was deleted on {day}." in answer.text
        assert "Secret study" not in answer.text


async def test_a_dandiset_that_never_existed_is_still_a_404(
    web_client: httpx.AsyncClient, upstream_paths: list[str]
) -> None:
    cases = {
        "/dandiset/999999/draft": "There is no dandiset 999999.",
        "/dandiset/999999": "No Dandiset matches the given query.",  # the API's words
    }
    for path, message in cases.items():
        answer = await web_client.get(path)
        assert answer.status_code == 404, path
        assert message in answer.text, path
        assert "was deleted" not in answer.text
    # Each page asked the tombstone route once, after the dandiset route's 404.
    assert upstream_paths.count("/api/dandisets/999999/tombstone/") == 2
    assert upstream_paths[-2:] == ["/api/dandisets/999999/", "/api/dandisets/999999/tombstone/"]


async def test_a_page_that_exists_never_asks_for_a_tombstone(
    web_client: httpx.AsyncClient, session: AsyncSession, upstream_paths: list[str]
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    identifier = f"{dandiset.id:06}"
    assert (await web_client.get(f"/dandiset/{identifier}/draft")).status_code == 200
    assert (await web_client.get(f"/dandiset/{identifier}")).status_code == 302
    assert len(upstream_paths) == 4  # the landing page's three calls, the redirect's one
    assert not [p for p in upstream_paths if p.endswith("/tombstone/")]
