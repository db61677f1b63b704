"""Single objects against a real S3: metadata, and who may read or write at which URL."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from dandelion_common.storage import S3Storage, blob_key


async def test_unknown_object_has_no_info(storage: S3Storage) -> None:
    assert await storage.head(blob_key(uuid.uuid4())) is None


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
