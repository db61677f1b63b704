"""Upload rows: presigning the 10,000 part URLs of a 1 TiB upload, ours against botocore."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.config import Config
from pydantic import SecretStr

from bench.table import Row
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.settings import S3Settings
from dandelion_common.sigv4 import UploadPartSigner
from dandelion_common.storage import S3Storage, blob_key

PARTS = 10_000
ENDPOINT = "http://127.0.0.1:18333"
KEY = "blobs/abc/def/abcdef00-1111-4222-8333-444455556666"


def ours() -> float:
    start = time.perf_counter()
    signer = UploadPartSigner(
        endpoint_url=ENDPOINT, region="us-east-1", access_key="AK", secret_key="SK",
        bucket="dandelion", key=KEY, upload_id="upload", expires=604800, now=datetime.now(UTC),
    )  # fmt: skip
    urls = [signer.url(n) for n in range(1, PARTS + 1)]
    assert len(urls) == PARTS
    return time.perf_counter() - start


def botocore_loop() -> float:
    client: Any = botocore.session.get_session().create_client(
        "s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="AK",
        aws_secret_access_key="SK",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip
    start = time.perf_counter()
    for n in range(1, PARTS + 1):
        params = {"Bucket": "dandelion", "Key": KEY, "UploadId": "upload", "PartNumber": n}
        client.generate_presigned_url("upload_part", Params=params, ExpiresIn=604800)
    return time.perf_counter() - start


def run() -> list[Row]:
    mine = min(ours() for _ in range(3)) * 1000
    theirs = botocore_loop() * 1000
    return [
        Row(
            f"presign {PARTS:,} part URLs (1 TiB upload)", mine, theirs,
            "botocore generate_presigned_url, same run", "ms", higher_is_better=False,
        )
    ]  # fmt: skip


SHA_BLOCK = 64 * 1024 * 1024
SHA_BLOCKS = int(os.environ.get("BENCH_SHA256_MIB", "2048")) // 64


async def sha256_row(urls: ServerUrls) -> Row:
    """The ingest sha256 job's streaming hash of a 2 GiB blob in S3 against single-core
    hashlib over the same bytes in memory (the physical limit of one core)."""
    from dandelion_ingest.checksum import stream_sha256

    storage = await S3Storage.connect(s3_settings(urls))
    key = blob_key(uuid.uuid4())
    block = os.urandom(SHA_BLOCK)
    try:
        await storage.ensure_bucket()
        upload_id = await storage.create_multipart_upload(key)
        parts = []
        for n in range(1, SHA_BLOCKS + 1):
            # Each part differs in its first bytes, so the object is not one block repeated.
            data = n.to_bytes(8, "big") + block[8:]
            etag = await storage.upload_part(key, upload_id, n, data)
            parts.append((n, etag))
        await storage.complete_multipart_upload(key, upload_id, parts)
        size = SHA_BLOCK * SHA_BLOCKS
        start = time.perf_counter()
        ours = await stream_sha256(storage, key, size)
        ours_s = time.perf_counter() - start
        digest = hashlib.sha256()
        limit_s = 0.0
        for n in range(1, SHA_BLOCKS + 1):
            data = n.to_bytes(8, "big") + block[8:]
            start = time.perf_counter()  # only the hashing counts, not building the bytes
            digest.update(data)
            limit_s += time.perf_counter() - start
        assert ours == digest.hexdigest()
        await storage.delete(key)
    finally:
        await storage.close()
    mb = size / 1e6
    return Row(
        f"sha256 job over a {size / 2**30:.0f} GiB blob in S3", mb / ours_s, mb / limit_s,
        "hashlib, one core, same bytes in memory", "MB/s",
    )  # fmt: skip


def s3_settings(urls: ServerUrls) -> S3Settings:
    return S3Settings(
        endpoint_url=urls.s3, bucket="dandelion-bench", access_key_id=urls.s3_access_key,
        secret_access_key=SecretStr(urls.s3_secret_key),
    )  # fmt: skip
