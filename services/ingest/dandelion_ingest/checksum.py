"""The sha256 job: one streaming pass over a new blob, then the assets waiting for it."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque

from dandelion_common.db.models import AssetBlob
from dandelion_common.jobs.contracts import COMPUTE_SHA256, BlobRef
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest.readiness import release_waiting_assets

CHUNK_BYTES = 8 * 1024 * 1024
READS_IN_FLIGHT = 4


async def stream_sha256(storage: S3Storage, key: str, size: int) -> str:
    """SHA-256 of an object read once, in order, with a few ranged GETs always in flight.

    Hashing runs in a thread (hashlib releases the GIL), so reads continue meanwhile.
    """
    digest = hashlib.sha256()
    offsets = iter(range(0, size, CHUNK_BYTES))
    pending: deque[asyncio.Task[bytes]] = deque()

    def read_next() -> None:
        offset = next(offsets, None)
        if offset is not None:
            end = min(offset + CHUNK_BYTES, size) - 1
            pending.append(asyncio.create_task(storage.read_range(key, offset, end)))

    for _ in range(READS_IN_FLIGHT):
        read_next()
    try:
        while pending:
            chunk = await pending.popleft()
            read_next()
            await asyncio.to_thread(digest.update, chunk)
    finally:
        for task in pending:
            task.cancel()
    return digest.hexdigest()


@handler(COMPUTE_SHA256)
async def sha256(ctx: Context, payload: BlobRef) -> str:
    """Checksum a new blob, then ask for validation of the assets waiting for it."""
    async with job_session(ctx) as session:
        blob = await session.get(AssetBlob, payload.blob_id)
        if blob is None:
            return "gone"
        if blob.sha256:
            return blob.sha256  # already done (arq may run a job twice)
        size, key = blob.size, blob_key(blob.id, embargoed=blob.embargoed)
    checksum = await stream_sha256(ctx["storage"], key, size)
    async with job_session(ctx) as session:
        blob = await session.get(AssetBlob, payload.blob_id, with_for_update=True)
        if blob is None:
            return "gone"
        blob.sha256 = checksum
        await release_waiting_assets(session, blob)
    return checksum
