"""A zarr asset's page browses its files by folder, from the API's flat listing on real S3."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import auth
from factories import create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession
from web.pages.files.browsing import parse

from dandelion_common.settings import Settings
from dandelion_web.pages.files import zarr

FILES = {
    ".zgroup": b"{}",
    "0/.zarray": b'{"chunks": [1, 1]}',
    "0/0.0": b"chunk 0.0",
    "0/0.1": b"chunk 0.1",
    "1/0.0": b"x",
    "labels/a/0": b"y",
}


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


async def zarr_asset(client: httpx.AsyncClient, session: AsyncSession) -> str:
    """What the dandi client does for a zarr: create it, PUT its files, add it as an asset;
    returns the asset's page."""
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    ident = f"{dandiset.id:06}"
    created = await client.post(
        "/api/zarr/", json={"name": "sub-01/x.ome.zarr", "dandiset": ident}, headers=auth(key)
    )
    zarr_id = created.json()["zarr_id"]
    body = [{"path": path, "base64md5": b64md5(data)} for path, data in FILES.items()]
    urls = await client.post(f"/api/zarr/{zarr_id}/files/", json=body, headers=auth(key))
    async with httpx.AsyncClient(timeout=60) as s3:
        for url, data in zip(urls.json(), FILES.values(), strict=True):
            put = await s3.put(url, content=data, headers={"Content-MD5": b64md5(data)})
            assert put.status_code == 200, put.text
    asset = await client.post(
        f"/api/dandisets/{ident}/versions/draft/assets/",
        json={"zarr_id": zarr_id, "metadata": {"path": "sub-01/x.ome.zarr"}},
        headers=auth(key),
    )
    assert asset.status_code == 200, asset.text
    return f"/dandiset/{ident}/draft/assets/{asset.json()['asset_id']}"


async def test_a_zarr_is_browsed_by_folder_and_its_chunks_download(
    web_client: httpx.AsyncClient,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
) -> None:
    url = await zarr_asset(api_client, session)
    answer = await web_client.get(url)
    assert answer.status_code == 200
    page = parse(answer.text)
    assert page.terms["Encoding format"] == ["application/x-zarr"]
    assert "Download" not in [link.text.strip() for link in page.links]  # a zarr is many files
    assert [r[0] for r in page.rows[1:]] == [".zgroup", "0/", "1/", "labels/"]
    folder = page.link("0/")
    assert folder.href == f"{url}?prefix=0%2F"
    assert folder.attrs["hx-get"] == folder.href
    inside = parse((await web_client.get(folder.href)).text)
    assert [r[:2] for r in inside.rows[1:]] == [
        ["..", ""],
        [".zarray", "18 B"],
        ["0.0", "9 B"],
        ["0.1", "9 B"],
    ]
    assert inside.current == ["0"]
    chunk = inside.labelled("Download 0.0").href
    assert chunk.startswith(f"{settings.api.api_url}/zarr/")
    parts = urlsplit(chunk)
    redirect = await api_client.get(f"{parts.path}?{parts.query}")
    assert redirect.status_code == 302
    async with httpx.AsyncClient(timeout=60) as s3:
        assert (await s3.get(redirect.headers["location"])).content == b"chunk 0.0"
    deep = parse((await web_client.get(url, params={"prefix": "labels/a"})).text)
    assert [r[0] for r in deep.rows[1:]] == ["..", "0"]
    assert deep.labelled("Parent folder").href == f"{url}?prefix=labels%2F"


async def test_zarr_pages_skip_whole_folders_and_resume_after_them(
    web_client: httpx.AsyncClient,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One key per request: every folder is left by a skip past its last possible key.
    monkeypatch.setattr(zarr, "PAGE_SIZE", 2)
    monkeypatch.setattr(zarr, "BATCH", 1)
    url = await zarr_asset(api_client, session)
    first = parse((await web_client.get(url)).text)
    assert [r[0] for r in first.rows[1:]] == [".zgroup", "0/"]
    following = first.link("Next page").href
    assert following == f"{url}?after=0%2F"
    answer = await web_client.get(following)
    second = parse(answer.text)
    assert [r[0] for r in second.rows[1:]] == ["1/", "labels/"]
    assert "Next page" not in [link.text for link in second.links]
    assert second.link("First page").href == url


async def test_zarr_fragments_and_unknown_folders(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    url = await zarr_asset(api_client, session)
    fragment = await web_client.get(f"{url}?prefix=0/", headers={"HX-Request": "true"})
    text = fragment.text.strip()
    assert text.startswith("<title>x.ome.zarr · DANDI:")
    assert '<section id="zarr"' in text
    assert "<html" not in text
    assert "<h1>" not in text
    missing = await web_client.get(url, params={"prefix": "nope"})
    assert missing.status_code == 404
    assert "This zarr has no folder &#39;nope&#39;." in missing.text
