"""Ingest jobs. Each takes ids, re-reads state under a row lock and returns early when there
is nothing (or no longer anything) to do: arq may run a job twice."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque

from sqlalchemy import select

from dandelion_common.db.enums import AssetStatus, VersionStatus
from dandelion_common.db.models import Asset, AssetBlob, Dandiset, Version
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import (
    COMPUTE_SHA256,
    VALIDATE_ASSET,
    VALIDATE_VERSION,
    AssetChecksum,
    BlobRef,
    VersionRevision,
)
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.metadata import (
    asset_errors,
    asset_full_metadata,
    full_metadata,
    version_errors,
)
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key

logger = logging.getLogger("dandelion.ingest")


@handler(VALIDATE_VERSION)
async def validate_version(ctx: Context, payload: VersionRevision) -> str:
    """Validate a draft's metadata as if it were published: Valid, or Invalid with errors."""
    settings: Settings = ctx["settings"]
    async with job_session(ctx) as session:
        query = select(Version).where(Version.id == payload.version_id).with_for_update()
        version = await session.scalar(query)
        if version is None or version.version != "draft":
            return "gone"
        if version.modified.isoformat() != payload.revision:
            return "superseded"  # a newer revision has its own job
        if version.status is not VersionStatus.PENDING:
            return "not pending"  # already validated, or being published
        dandiset = await session.get(Dandiset, version.dandiset_id)
        assert dandiset is not None  # the version's foreign key guarantees it
        errors = version_errors(settings, dandiset.id, full_metadata(settings, dandiset, version))
        version.status = VersionStatus.INVALID if errors else VersionStatus.VALID
        version.validation_errors = errors
    logger.info("validated draft", extra={"version_id": payload.version_id, "errors": len(errors)})
    return version.status.value


@handler(VALIDATE_ASSET)
async def validate_asset(ctx: Context, payload: AssetChecksum) -> str:
    """Validate an asset's metadata as if published; it stays Pending until its checksum is
    known, as on DANDI ("asset is currently being validated")."""
    settings: Settings = ctx["settings"]
    async with job_session(ctx) as session:
        query = select(Asset).where(Asset.id == payload.asset_id).with_for_update()
        asset = await session.scalar(query)
        if asset is None:
            return "gone"
        if asset.status is not AssetStatus.PENDING:
            return "not pending"
        blob = await session.get(AssetBlob, asset.blob_id) if asset.blob_id else None
        if blob is None or blob.sha256 is None:
            return "waiting for checksum"
        errors = asset_errors(asset_full_metadata(settings, asset, blob))
        asset.status = AssetStatus.INVALID if errors else AssetStatus.VALID
        asset.validation_errors = errors
    return asset.status.value


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
        waiting = select(Asset.id).where(
            Asset.blob_id == blob.id, Asset.status == AssetStatus.PENDING
        )
        for asset_id in await session.scalars(waiting):
            enqueue_after_commit(
                session, VALIDATE_ASSET, AssetChecksum(asset_id=asset_id, sha256=checksum)
            )
    return checksum
