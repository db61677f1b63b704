"""S3 through the storage module against a real server that verifies signatures."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

import httpx
import pytest
from s3 import read_range

from dandelion_common.storage import S3Storage, blob_key, complete_multipart_body, zarr_key

MiB = 1024 * 1024
PARTS = [os.urandom(5 * MiB + 123), os.urandom(5 * MiB + 4567), os.urandom(89)]


def _md5(data: bytes) -> hashlib._Hash:
    return hashlib.md5(data, usedforsecurity=False)


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_multipart_upload_through_presigned_urls(
    storage: S3Storage, http: httpx.AsyncClient
) -> None:
    """Parts PUT by plain HTTP, completed at the presigned URL: S3 holds the exact bytes."""
    key = blob_key(uuid.uuid4())
    upload_id = await storage.create_multipart_upload(key)
    etags = []
    for number, data in enumerate(PARTS, start=1):
        (url,) = storage.presign_upload_parts(key, upload_id, [number])
        response = await http.put(url, content=data)
        assert response.status_code == 200, response.text
        assert response.headers["ETag"].strip('"') == _md5(data).hexdigest()
        etags.append((number, response.headers["ETag"]))
    complete_url = await storage.presign_complete(key, upload_id)
    response = await http.post(complete_url, content=complete_multipart_body(etags))
    assert response.status_code == 200, response.text

    dandi_etag = _md5(b"".join(_md5(p).digest() for p in PARTS)).hexdigest() + "-3"
    result = ElementTree.fromstring(response.text)
    assert result.findtext("{*}ETag") == f'"{dandi_etag}"'
    info = await storage.head(key)
    assert info is not None
    assert (info.size, info.etag) == (sum(map(len, PARTS)), dandi_etag)
    whole = b"".join(PARTS)
    assert await read_range(storage, key, 5 * MiB, 5 * MiB + 99) == whole[5 * MiB : 5 * MiB + 100]

    download = await http.get(await storage.presign_get(key, filename="sub-01.nwb"))
    assert download.content == whole
    assert download.headers["Content-Disposition"] == 'attachment; filename="sub-01.nwb"'


async def test_tampered_urls_are_refused(storage: S3Storage, http: httpx.AsyncClient) -> None:
    """A changed signature, part number, key or method gets 403 and writes nothing."""
    key = blob_key(uuid.uuid4())
    upload_id = await storage.create_multipart_upload(key)
    (url,) = storage.presign_upload_parts(key, upload_id, [1])
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    forged = "0" * len(signature)
    assert (
        await http.put(_with_query(url, **{"X-Amz-Signature": forged}), content=b"x")
    ).status_code == 403
    assert (await http.put(_with_query(url, partNumber="2"), content=b"x")).status_code == 403
    assert (
        await http.put(url.replace(key, blob_key(uuid.uuid4())), content=b"x")
    ).status_code == 403
    complete_url = await storage.presign_complete(key, upload_id)
    assert (await http.put(complete_url, content=b"")).status_code == 403

    response = await http.put(url, content=PARTS[2])  # the untampered URL still works
    assert response.status_code == 200
    assert await storage.abort_multipart_upload_if_exists(key, upload_id)
    assert await storage.head(key) is None


async def test_unknown_object_has_no_info(storage: S3Storage) -> None:
    assert await storage.head(blob_key(uuid.uuid4())) is None


def test_blob_keys_spread_over_prefixes() -> None:
    blob_id = uuid.UUID("0123abcd-0000-4000-8000-000000000000")
    assert blob_key(blob_id) == "blobs/012/3ab/0123abcd-0000-4000-8000-000000000000"


async def test_open_blobs_are_readable_anonymously_and_nothing_else(
    storage: S3Storage, http: httpx.AsyncClient
) -> None:
    """As DANDI's public bucket: anyone may GET (with Range) a blob at its unsigned URL; other
    prefixes (embargoed objects will live elsewhere), listing and writing need a signature."""
    if os.environ.get("DANDELION_TEST_S3_URL"):
        pytest.skip("an S3 server of your own need not grant anonymous reads")
    data = os.urandom(4096)
    blob, embargoed = blob_key(uuid.uuid4()), f"embargoed/{blob_key(uuid.uuid4())}"
    await storage.put(blob, data)
    await storage.put(embargoed, data)
    try:
        ranged = await http.get(storage.object_url(blob), headers={"Range": "bytes=100-199"})
        assert ranged.status_code == 206
        assert ranged.content == data[100:200]
        assert ranged.headers["Content-Range"] == "bytes 100-199/4096"
        assert (await http.head(storage.object_url(blob))).status_code == 200
        missing = storage.object_url(blob_key(uuid.uuid4()))
        assert (await http.get(missing)).status_code == 404

        assert (await http.get(storage.object_url(embargoed))).status_code == 403
        assert (await http.head(storage.object_url(embargoed))).status_code == 403
        bucket_url = storage.object_url("").rstrip("/")
        assert (await http.get(f"{bucket_url}/?list-type=2&prefix=blobs/")).status_code == 403
        new_blob = storage.object_url(blob_key(uuid.uuid4()))
        assert (await http.put(new_blob, content=b"x")).status_code == 403
        assert (await http.put(storage.object_url(blob), content=b"x")).status_code == 403
        assert (await http.delete(storage.object_url(blob))).status_code == 403
        info = await storage.head(blob)
        assert info is not None
        assert info.size == len(data)

        signed = await storage.presign_get(embargoed)
        response = await http.get(signed, headers={"Range": "bytes=0-9"})
        assert (response.status_code, response.content) == (206, data[:10])
    finally:
        await storage.delete(blob)
        await storage.delete(embargoed)


def test_embargoed_blobs_have_their_own_prefix() -> None:
    blob_id = uuid.UUID("0123abcd-0000-4000-8000-000000000000")
    key = blob_key(blob_id, embargoed=True)
    assert key == "embargoed/blobs/012/3ab/0123abcd-0000-4000-8000-000000000000"


async def test_server_side_multipart_upload(storage: S3Storage) -> None:
    """The storage module's own part upload (tools, benchmarks) gives S3's multipart ETag."""
    key = blob_key(uuid.uuid4())
    upload_id = await storage.create_multipart_upload(key)
    etags = [
        (n, await storage.upload_part(key, upload_id, n, part)) for n, part in enumerate(PARTS, 1)
    ]
    await storage.complete_multipart_upload(key, upload_id, etags)
    info = await storage.head(key)
    assert info is not None
    assert info.etag == _md5(b"".join(_md5(p).digest() for p in PARTS)).hexdigest() + "-3"
    assert await read_range(storage, key, 0, 9) == PARTS[0][:10]
    await storage.delete(key)


async def test_multipart_uploads_are_listed_page_by_page(storage: S3Storage) -> None:
    """Every upload under a prefix, across pages (AWS and SeaweedFS mark pages differently)."""
    prefix = f"listing-{uuid.uuid4().hex}/"
    started = {f"{prefix}{n}": "" for n in range(5)}
    for key in started:
        started[key] = await storage.create_multipart_upload(key)
    try:
        listed = [item async for item in storage.list_multipart_uploads(prefix, page_size=2)]
        assert sorted((item.key, item.upload_id) for item in listed) == sorted(started.items())
        assert all(item.initiated.tzinfo is not None for item in listed)
        assert [item async for item in storage.list_multipart_uploads(f"{prefix}9")] == []
    finally:
        for key, upload_id in started.items():
            assert await storage.abort_multipart_upload_if_exists(key, upload_id)


async def test_aborting_an_upload_s3_no_longer_knows_is_not_an_error(storage: S3Storage) -> None:
    key = blob_key(uuid.uuid4())
    upload_id = await storage.create_multipart_upload(key)
    assert await storage.abort_multipart_upload_if_exists(key, upload_id) is True
    assert await storage.abort_multipart_upload_if_exists(key, "no-such-upload") is False

    completed = await storage.create_multipart_upload(key)
    etag = await storage.upload_part(key, completed, 1, b"done")
    await storage.complete_multipart_upload(key, completed, [(1, etag)])
    # AWS answers NoSuchUpload, SeaweedFS success; either way the object stays.
    await storage.abort_multipart_upload_if_exists(key, completed)
    info = await storage.head(key)
    assert info is not None
    assert info.size == 4
    await storage.delete(key)


async def test_the_zarr_bucket_keeps_each_version_and_lists_the_current_ones(
    storage: S3Storage, http: httpx.AsyncClient
) -> None:
    prefix = zarr_key(uuid.uuid4())
    await storage.zarr.put(f"{prefix}0/0", b"first")
    await storage.zarr.put(f"{prefix}0/0", b"second")
    await storage.zarr.put(f"{prefix}0/1", b"other")
    await storage.zarr.delete_many([f"{prefix}0/1"])
    pages = [page async for page in storage.zarr.latest_versions(prefix)]
    (current,) = [o for page in pages for o in page]
    assert (current.key, current.size) == (f"{prefix}0/0", len(b"second"))
    assert await storage.zarr.count_versions(prefix) == (3, 1)
    listed = [v async for page in storage.zarr.versions(f"{prefix}0/0") for v in page]
    first = next(v.version_id for v in listed if not v.is_latest)
    url = await storage.zarr.presign_get(f"{prefix}0/0", version_id=first)
    assert (await http.get(url)).content == b"first"


async def test_an_unversioned_bucket_gives_no_version_ids(storage: S3Storage) -> None:
    """Objects of an unversioned bucket list with the version id "null", which a snapshot
    must not record: an overwrite destroys that version."""
    settings = storage.settings.model_copy(update={"zarr_bucket": f"unversioned-{uuid.uuid4()}"})
    plain = await S3Storage.connect(settings)
    try:
        await plain.zarr.ensure_bucket()  # a sibling bucket: created without versioning
        await plain.zarr.put("zarr/x/0", b"data")
        (page,) = [page async for page in plain.zarr.latest_versions("zarr/")]
        assert [(o.key, o.version_id) for o in page] == [("zarr/x/0", None)]
        assert not await plain.zarr.versioning_enabled()
        assert await storage.zarr.versioning_enabled()
    finally:
        await plain.close()


async def listings(storage: S3Storage, prefix: str) -> tuple[list[Any], ...]:
    """What the three version listings give, page by page."""
    latest = [page async for page in storage.latest_versions(prefix)]
    after_a = [page async for page in storage.latest_versions(prefix, after=f"{prefix}a")]
    versions = [page async for page in storage.versions(prefix)]
    return latest, after_a, versions, [await storage.count_versions(prefix)]


async def test_version_listings_page_past_one_listing_request(
    storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two entries per ListObjectVersions request: a key's versions straddle pages, and every
    listing still sees each version, marker and current object once, as in one page."""
    zarrs, prefix = storage.zarr, zarr_key(uuid.uuid4())
    for n in range(3):
        await zarrs.put(f"{prefix}a", b"a%d" % n)
    await zarrs.put(f"{prefix}b", b"b")
    await zarrs.delete_many([f"{prefix}b"])  # a delete marker on top of b's one version
    await zarrs.put(f"{prefix}c", b"c")
    await zarrs.put(f"{prefix}c", b"c1")
    whole = await listings(zarrs, prefix)
    monkeypatch.setattr(zarrs, "LIST_PAGE", 2)
    paged = await listings(zarrs, prefix)

    latest, after_a, versions, counts = paged
    assert len(versions) == 4  # 7 entries, 2 a page
    flat = [v for page in versions for v in page]
    assert [v.key[len(prefix) :] for v in flat] == ["a", "a", "a", "b", "b", "c", "c"]
    assert [v.key[len(prefix) :] for v in flat if v.delete_marker] == ["b"]
    assert len({v.version_id for v in flat}) == 7
    current = [(o.key[len(prefix) :], o.size) for page in latest for o in page]
    assert current == [("a", 2), ("c", 2)]
    assert [o.key for page in after_a for o in page] == [f"{prefix}c"]
    assert {o.version_id for page in latest for o in page} == {
        v.version_id for v in flat if v.is_latest and not v.delete_marker
    }
    assert counts == [(6, 1)]
    for one, many in zip(whole, paged, strict=True):  # a key's entries may come in any order
        assert sorted(map(repr, (x for page in one for x in page))) == sorted(
            map(repr, (x for page in many for x in page))
        )
