"""Download redirects hand out presigned URLs scoped to one object and short-lived, and the
real S3 server holds them to that: another key, a longer life or an expired URL is refused.

Embargoed objects are the ones that matter (open blobs are readable without a signature, as
on DANDI's public bucket), so the URLs here are an owner's, for embargoed assets.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from security.world import Owned, owned
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import AssetBlob
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key


@pytest.fixture
async def s3() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for the S3 server, as a downloader's."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def with_bytes(session: AsyncSession, storage: S3Storage, me: Owned) -> tuple[str, bytes]:
    """The S3 key of `me`'s asset, now holding bytes of its own."""
    blob = await session.get(AssetBlob, me.asset.blob_id)
    assert blob is not None
    key, content = blob_key(blob.id, embargoed=blob.embargoed), f"{uuid.uuid4()}".encode()
    await storage.put(key, content)
    return key, content


def routes(me: Owned) -> list[str]:
    nested = f"/api/dandisets/{me.identifier}/versions/draft/assets/{me.asset.id}/download/"
    return [f"/api/assets/{me.asset.id}/download/", nested]


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path))


def with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = "&".join(
        f"{k}={value}" if k == name else f"{k}={v}"
        for k, v in (item.split("=", 1) for item in parts.query.split("&"))
    )
    return urlunsplit(parts._replace(query=query))


@pytest.mark.parametrize("route", [0, 1], ids=["by id", "in version"])
async def test_a_download_url_signs_one_object_for_a_short_while(
    client: httpx.AsyncClient,
    s3: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    settings: Settings,
    route: int,
) -> None:
    me = await owned(session, embargoed=True)
    key, content = await with_bytes(session, storage, me)
    someone = await owned(session, embargoed=True)
    other_key, _ = await with_bytes(session, storage, someone)

    response = await client.get(routes(me)[route], headers=me.headers)
    assert response.status_code == 302, response.text
    url = response.headers["Location"]
    parts, query = urlsplit(url), parse_qs(urlsplit(url).query)
    # One object: the path names the key; only the Host header is signed with it.
    assert parts.path == f"/{settings.s3.bucket}/{key}"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    # Short-lived: signed now, for at most the configured time.
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - signed) < timedelta(minutes=1)
    assert 0 < int(query["X-Amz-Expires"][0]) <= settings.s3.download_url_expiry_seconds

    fetched = await s3.get(url)
    assert (fetched.status_code, fetched.content) == (200, content)
    # The real S3 refuses the signature for anything else.
    tampered = {
        "another object": with_path(url, f"/{settings.s3.bucket}/{other_key}"),
        "its folder": with_path(url, f"/{settings.s3.bucket}/{key.rsplit('/', 1)[0]}/"),
        "below it": with_path(url, f"/{settings.s3.bucket}/{key}/x"),
        "a longer life": with_query(url, "X-Amz-Expires", str(7 * 24 * 3600)),
        "no signature": with_query(url, "X-Amz-Signature", "0" * 64),
    }
    for what, changed in tampered.items():
        answer = await s3.get(changed)
        assert answer.status_code == 403, (what, answer.status_code, answer.text[:200])


async def test_s3_refuses_an_expired_download_url(
    s3: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    """The expiry the API signs is enforced by the server, not only written in the URL."""
    me = await owned(session, embargoed=True)
    key, content = await with_bytes(session, storage, me)
    url = await storage.presign_get(key, expires=1)
    assert (await s3.get(url)).content == content
    await asyncio.sleep(2.5)
    assert (await s3.get(url)).status_code == 403
