"""Our UploadPart signer produces exactly botocore's presigned URLs, and S3 accepts them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.session
import httpx
import pytest
from botocore.config import Config

from dandelion_common.sigv4 import UploadPartSigner
from dandelion_common.storage import S3Storage, blob_key

ENDPOINT = "http://127.0.0.1:18333"


def botocore_url(key: str, upload_id: str, part: int, expires: int) -> str:
    client: Any = botocore.session.get_session().create_client(
        "s3", endpoint_url=ENDPOINT, region_name="eu-west-3", aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip
    params = {"Bucket": "my-bucket", "Key": key, "UploadId": upload_id, "PartNumber": part}
    return str(client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires))


@pytest.mark.parametrize(
    ("key", "upload_id", "part"),
    [
        ("blobs/abc/def/abcdef00-1111-4222-8333-444455556666", "2~simple_upload-id", 1),
        ("embargoed/blobs/a b/ünï+cödé=~.nwb", "up/id+with=odd&chars", 10_000),
        ("dandisets/000123/0.240101.1200/assets.yaml", "Zm9vYmFy", 42),
    ],
)
def test_urls_are_byte_identical_to_botocore(key: str, upload_id: str, part: int) -> None:
    expected = botocore_url(key, upload_id, part, 604800)
    stamp = parse_qs(urlsplit(expected).query)["X-Amz-Date"][0]
    signer = UploadPartSigner(
        endpoint_url=ENDPOINT, region="eu-west-3", access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", bucket="my-bucket", key=key,
        upload_id=upload_id, expires=604800,
        now=datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
    )  # fmt: skip
    assert signer.url(part) == expected


async def test_s3_accepts_our_part_urls(storage: S3Storage) -> None:
    key = blob_key("abcdef00-1111-4222-8333-444455556666")
    upload_id = await storage.create_multipart_upload(key)
    urls = storage.presign_upload_parts(key, upload_id, [1, 2])
    async with httpx.AsyncClient() as http:
        assert (await http.put(urls[0], content=b"x" * 10)).status_code == 200
        forged = urls[1].replace("partNumber=2", "partNumber=3")
        assert (await http.put(forged, content=b"y")).status_code == 403
    assert await storage.abort_multipart_upload_if_exists(key, upload_id)
