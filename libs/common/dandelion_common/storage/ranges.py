"""Ranged reads: a whole object streamed in order at the least CPU (`object_chunks`, for the
sha256 job), and GET URLs on the services' endpoint for readers that fetch ranges themselves
(the NWB readers).

Speed: `object_chunks` reads with pipelined ranged GETs straight into a few reused buffers (no
per-chunk allocation or join, one copy out of aiohttp's socket reads), on plain aiohttp with a
presigned URL per GET. Reading 2 GiB so costs this process ~1.3 CPU-seconds, against ~2.6
through aiobotocore's get_object (which builds a new bytes per GET) and ~1.4 for the sha256
hashing itself: on a small box every CPU-second counts.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from dandelion_common.errors import StorageError, StorageUnavailable
from dandelion_common.storage.core import StorageCore

# Large GETs: the S3 server's CPU per byte falls with the range size (SeaweedFS spends ~1.4x
# on 8 MiB ranges what it spends on 32 MiB ones), and on a small box it shares the cores with
# the hasher. Memory: READS_IN_FLIGHT + 1 buffers per reader (a running sha256 job), 128 MiB.
CHUNK_BYTES = 32 * 1024 * 1024
READS_IN_FLIGHT = 3
URL_EXPIRY_SECONDS = 900

Read = Callable[[int, memoryview], Coroutine[Any, Any, None]]


async def _read_range(
    session: aiohttp.ClientSession, storage: RangeReads, key: str, offset: int, view: memoryview
) -> None:
    """Fill `view` with the object's bytes from `offset`: each socket read is copied once into
    `view`; nothing is joined into a new bytes object (which costs page faults at 16 MiB)."""
    # Signed per GET (under a millisecond), so no URL can expire during a long run.
    url = await storage.presign_internal_get(key, expires=URL_EXPIRY_SECONDS)
    headers = {"Range": f"bytes={offset}-{offset + len(view) - 1}"}
    filled = 0
    try:
        async with session.get(url, headers=headers) as response:
            if response.status != 206:
                error = StorageUnavailable if response.status >= 500 else StorageError
                raise error(f"S3 GET {key} answered {response.status} to a range request")
            async for data in response.content.iter_any():
                if filled + len(data) > len(view):
                    raise StorageError(f"S3 GET {key} sent more than the range asked")
                view[filled : filled + len(data)] = data
                filled += len(data)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise StorageUnavailable(f"S3 GET {key} failed: {exc}") from exc
    if filled != len(view):
        raise StorageUnavailable(f"S3 GET {key} ended after {filled} of {len(view)} bytes")


@asynccontextmanager
async def _reader(storage: RangeReads, key: str) -> AsyncIterator[Read]:
    """Ranged reads of `key` by presigned URL on plain aiohttp, with S3's timeouts."""
    seconds = storage.settings.timeout_seconds
    timeout = aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds)
    connector = aiohttp.TCPConnector(limit=READS_IN_FLIGHT)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:
        yield functools.partial(_read_range, session, storage, key)


class RangeReads(StorageCore):
    """The ranged-read calls of `S3Storage`."""

    async def presign_internal_get(self, key: str, *, expires: int) -> str:
        """A GET URL on the endpoint the services use (workers reading blobs by HTTP range)."""
        return await self._presign("get_object", {"Key": key}, expires, client=self._client)

    async def object_chunks(
        self, key: str, size: int, *, start: int = 0
    ) -> AsyncGenerator[memoryview, None]:
        """The object's bytes from `start` on, in order, as views of READS_IN_FLIGHT + 1 reused
        buffers: while the caller holds one view, the next READS_IN_FLIGHT GETs fill the others.
        A view is valid until the caller asks for the next one."""
        async with _reader(self, key) as read:
            offsets = iter(range(start, size, CHUNK_BYTES))
            pending: deque[tuple[asyncio.Task[None], bytearray, memoryview]] = deque()

            def read_next(buffer: bytearray | None) -> None:
                offset = next(offsets, None)
                if offset is not None:
                    if buffer is None:
                        buffer = bytearray(min(CHUNK_BYTES, size - start))
                    view = memoryview(buffer)[: min(CHUNK_BYTES, size - offset)]
                    pending.append((asyncio.create_task(read(offset, view)), buffer, view))

            for _ in range(READS_IN_FLIGHT):
                read_next(None)
            spare: bytearray | None = None
            try:
                while pending:
                    task, buffer, view = pending[0]
                    await task
                    pending.popleft()
                    read_next(spare)
                    yield view
                    spare = buffer
            finally:
                for task, _, _ in pending:
                    task.cancel()
                await asyncio.gather(*(task for task, _, _ in pending), return_exceptions=True)
