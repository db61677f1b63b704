"""What tests look at in S3 and the services never need: an object's bytes read back, its tags.
On the storage's own aiobotocore client, so `S3Storage` keeps only what production code uses."""

from __future__ import annotations

from dandelion_common.storage import S3Storage


async def read_range(storage: S3Storage, key: str, start: int, end: int) -> bytes:
    """Bytes `start..end` inclusive, as HTTP Range counts them."""
    response = await storage._client.get_object(
        Bucket=storage.bucket, Key=key, Range=f"bytes={start}-{end}"
    )
    async with response["Body"] as body:
        return bytes(await body.read())


async def object_tags(storage: S3Storage, key: str) -> dict[str, str]:
    """The object's S3 tags (the embargo tag among them)."""
    response = await storage._client.get_object_tagging(Bucket=storage.bucket, Key=key)
    return {str(t["Key"]): str(t["Value"]) for t in response.get("TagSet", [])}
