"""Ranged reads against a real S3: `object_chunks` streams an object in order from any offset
through a few reused buffers, and says which failures are worth a retry."""

from __future__ import annotations

import os
import uuid
from contextlib import aclosing

import pytest

from dandelion_common.errors import StorageError, StorageUnavailable
from dandelion_common.storage import S3Storage, blob_key, ranges

CHUNK = 1000


async def read_all(storage: S3Storage, key: str, size: int, start: int) -> tuple[bytes, int]:
    """The bytes `object_chunks` yields, and how many distinct buffers held them."""
    data, buffers = bytearray(), set()
    async with aclosing(storage.object_chunks(key, size, start=start)) as chunks:
        async for view in chunks:
            assert len(view) <= CHUNK
            buffers.add(id(view.obj))
            data += view
    return bytes(data), len(buffers)


@pytest.mark.parametrize("start", [0, 1, CHUNK, 2 * CHUNK + 500])
async def test_object_chunks_stream_the_object_from_any_offset(
    storage: S3Storage, monkeypatch: pytest.MonkeyPatch, start: int
) -> None:
    monkeypatch.setattr(ranges, "CHUNK_BYTES", CHUNK)
    content = os.urandom(8 * CHUNK + 7)  # more chunks than buffers, a ragged end
    key = blob_key(uuid.uuid4())
    await storage.put(key, content)
    try:
        data, buffers = await read_all(storage, key, len(content), start)
    finally:
        await storage.delete(key)
    assert data == content[start:]
    assert buffers == ranges.READS_IN_FLIGHT + 1


async def test_missing_objects_are_errors_and_truncated_reads_outages(storage: S3Storage) -> None:
    with pytest.raises(StorageError) as missing:
        await read_all(storage, blob_key(uuid.uuid4()), 10, 0)
    assert not isinstance(missing.value, StorageUnavailable)

    key = blob_key(uuid.uuid4())
    await storage.put(key, b"short")
    try:
        with pytest.raises(StorageUnavailable, match="ended after 5 of 10 bytes"):
            await read_all(storage, key, 10, 0)  # the size promised more than S3 holds
    finally:
        await storage.delete(key)
