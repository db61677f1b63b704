"""Upload rows: presigning the 10,000 part URLs of a 1 TiB upload, ours against botocore."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from contextlib import aclosing
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
SHA_RUNS = 3  # best of: the box is shared, and the S3 server competes with the hasher


async def sha256_rows(urls: ServerUrls) -> list[Row]:
    """The job against hashlib, the job against S3 GETs of the same object without hashing
    (the job's own reader, in the same run), and the resumable hasher against hashlib."""
    from dandelion_ingest.checksum import ResumableSha256

    block = os.urandom(SHA_BLOCK)
    hashlib_s, expected = _hash_parts(block, hashlib.sha256)
    ctypes_s, digest = _hash_parts(block, ResumableSha256)
    assert digest == expected
    storage = await S3Storage.connect(s3_settings(urls))
    key = blob_key(uuid.uuid4())
    try:
        size = await _put_sha256_blob(storage, key, block)
        job_s, get_s = await _stream_sha256_timings(storage, key, size, expected)
        await storage.delete(key)
    finally:
        await storage.close()
    mb = size / 1e6
    name = f"sha256 job over a {size / 2**30:.0f} GiB blob in S3"
    return [
        Row(name, mb / job_s, mb / hashlib_s, "hashlib, one core, same bytes in memory", "MB/s"),
        Row(
            f"{name}, against S3 alone", mb / job_s, mb / get_s,
            "S3 GET of the same object, no hashing (same reader, same run)", "MB/s",
        ),
        Row(
            "resumable SHA-256 (OpenSSL SHA256_CTX via ctypes)", mb / ctypes_s, mb / hashlib_s,
            "hashlib, one core, same bytes in memory", "MB/s",
        ),
    ]  # fmt: skip


def _sha256_part(n: int, block: bytes) -> bytes:
    # Each part differs in its first bytes, so the object is not one block repeated.
    return n.to_bytes(8, "big") + block[8:]


def _hash_parts(block: bytes, new: Callable[[], Any]) -> tuple[float, str]:
    """Best seconds spent hashing the object's parts in memory (not building them), and the
    digest."""
    best = float("inf")
    for _ in range(SHA_RUNS):
        digest, spent = new(), 0.0
        for n in range(1, SHA_BLOCKS + 1):
            data = _sha256_part(n, block)
            start = time.perf_counter()
            digest.update(data)
            spent += time.perf_counter() - start
        best = min(best, spent)
    return best, str(digest.hexdigest())


async def _put_sha256_blob(storage: S3Storage, key: str, block: bytes) -> int:
    await storage.ensure_bucket()
    upload_id = await storage.create_multipart_upload(key)
    parts = []
    for n in range(1, SHA_BLOCKS + 1):
        etag = await storage.upload_part(key, upload_id, n, _sha256_part(n, block))
        parts.append((n, etag))
    await storage.complete_multipart_upload(key, upload_id, parts)
    return SHA_BLOCK * SHA_BLOCKS


async def _stream_sha256_timings(
    storage: S3Storage, key: str, size: int, expected: str
) -> tuple[float, float]:
    """Best seconds of the job's streaming hash and of the same GETs without hashing,
    interleaved so that both see the same load."""
    from dandelion_ingest.checksum import stream_sha256

    job_s, get_s = [], []
    for _ in range(SHA_RUNS):
        start = time.perf_counter()
        assert await stream_sha256(storage, key, size) == expected
        job_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        async with aclosing(storage.object_chunks(key, size)) as chunks:
            async for _view in chunks:
                pass
        get_s.append(time.perf_counter() - start)
    return min(job_s), min(get_s)


def s3_settings(urls: ServerUrls) -> S3Settings:
    return S3Settings(
        endpoint_url=urls.s3, bucket="dandelion-bench", access_key_id=urls.s3_access_key,
        secret_access_key=SecretStr(urls.s3_secret_key),
    )  # fmt: skip
