"""Server-side copies inside a bucket (unembargo moves blobs between prefixes): one CopyObject,
or a multipart copy of many UploadPartCopy parts for objects past S3's 5 GiB limit."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from dandelion_common.errors import StorageError
from dandelion_common.storage.multipart import MultipartUploads


class ServerCopies(MultipartUploads):
    """The copy calls of `S3Storage`."""

    # S3's limits: one CopyObject copies at most 5 GiB; UploadPartCopy parts are 5 MiB..5 GiB
    # (the last may be smaller), at most 10,000 of them.
    MAX_COPY_OBJECT = 5 * 1024**3
    MIN_COPY_PART, MAX_COPY_PART, MAX_COPY_PARTS = 5 * 1024**2, 5 * 1024**3, 10_000
    DEFAULT_COPY_PART = 512 * 1024**2
    COPY_PART_CONCURRENCY = 8

    async def copy(self, src: str, dst: str, size: int, *, part_size: int | None = None) -> None:
        """Copy `src` (`size` bytes) to `dst` inside the bucket, leaving the source's tags
        behind. One CopyObject when `part_size` covers the whole object (None: as large as S3
        allows); otherwise one UploadPartCopy per `part_size` bytes."""
        if part_size is None:
            part_size = size if size <= self.MAX_COPY_OBJECT else self.DEFAULT_COPY_PART
        if size <= part_size and size <= self.MAX_COPY_OBJECT:
            await self._call(
                "copy_object",
                Key=dst,
                CopySource={"Bucket": self.bucket, "Key": src},
                # Tags are copied by default: the embargo tag must not follow the object.
                TaggingDirective="REPLACE",
            )
            return
        await self._copy_multipart(src, dst, size, part_size)

    def _copy_ranges(self, size: int, part_size: int) -> list[tuple[int, int, int]]:
        """(part number, first byte, last byte) of each part of a multipart copy."""
        if not self.MIN_COPY_PART <= part_size <= self.MAX_COPY_PART:
            raise ValueError(f"copy part size {part_size} is outside S3's limits")
        starts = range(0, size, part_size)
        if len(starts) > self.MAX_COPY_PARTS:
            raise ValueError(f"{size} bytes need more than {self.MAX_COPY_PARTS} parts")
        return [(n, start, min(start + part_size, size) - 1) for n, start in enumerate(starts, 1)]

    async def _copy_multipart(self, src: str, dst: str, size: int, part_size: int) -> None:
        ranges = self._copy_ranges(size, part_size)
        upload_id = await self.create_multipart_upload(dst)  # no tagging: the copy is untagged
        gate = asyncio.Semaphore(self.COPY_PART_CONCURRENCY)

        async def copy_part(number: int, first: int, last: int) -> tuple[int, str]:
            async with gate:
                response = await self._call(
                    "upload_part_copy",
                    Key=dst,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": src},
                    CopySourceRange=f"bytes={first}-{last}",
                )
            return number, str(response["CopyPartResult"]["ETag"]).strip('"')

        tasks = [asyncio.ensure_future(copy_part(*r)) for r in ranges]
        try:
            parts = await asyncio.gather(*tasks)
            await self.complete_multipart_upload(dst, upload_id, sorted(parts))
        except BaseException:
            # Stop the other parts before aborting, so none lands in an aborted upload. Best
            # effort: garbage collection aborts an upload left behind under the blob prefixes.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with suppress(StorageError):
                await self.abort_multipart_upload_if_exists(dst, upload_id)
            raise
