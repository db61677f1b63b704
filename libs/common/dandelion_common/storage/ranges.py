"""Ranged reads: GET URLs on the services' endpoint for workers that fetch ranges themselves
(the sha256 job, the NWB readers)."""

from __future__ import annotations

from dandelion_common.storage.core import StorageCore


class RangeReads(StorageCore):
    """The ranged-read calls of `S3Storage`."""

    async def presign_internal_get(self, key: str, *, expires: int) -> str:
        """A GET URL on the endpoint the services use (workers reading blobs by HTTP range)."""
        return await self._presign("get_object", {"Key": key}, expires, client=self._client)

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes `start..end` inclusive, as HTTP Range counts them."""
        response = await self._call("get_object", Key=key, Range=f"bytes={start}-{end}")
        async with response["Body"] as body:
            return bytes(await body.read())
