"""Multipart uploads through the storage package against a real S3 that verifies signatures:
parts PUT at presigned URLs or from this process, listings, aborts."""

from __future__ import annotations

import hashlib
import os
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

import httpx
from s3 import read_range

from dandelion_common.storage import S3Storage, blob_key, complete_multipart_body

MiB = 1024 * 1024
PARTS = [os.urandom(5 * MiB + 123), os.urandom(5 * MiB + 4567), os.urandom(89)]


def _md5(data: bytes) -> hashlib._Hash:
    return hashlib.md5(data, usedforsecurity=False)


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


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
