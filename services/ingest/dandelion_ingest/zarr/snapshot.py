"""A zarr archive's snapshot: the ingest job's (`job.py`) steps between its start and its
finish. The archive's current S3 objects are listed into the snapshot's entries (a
transaction per batch), its checksum is read back from them, the draft's zarr assets are
pointed at it (in the job's finishing transaction, under the draft's lock), and snapshots
nothing uses any more are deleted. Also the worker's startup check that the zarr bucket keeps
object versions, without which an entry could not name the bytes it describes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, TypeVar

from arq import Retry
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dandelion_common import asset_paths
from dandelion_common.db.enums import AssetStatus, OutboxEntity
from dandelion_common.db.models import (
    Asset,
    Version,
    VersionAsset,
    ZarrArchive,
    ZarrSnapshot,
    ZarrSnapshotEntry,
)
from dandelion_common.drafts import assets_changed
from dandelion_common.errors import StorageError
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import VALIDATE_ZARR_ASSET, ZarrAssetRef
from dandelion_common.jobs.worker import Context, job_session
from dandelion_common.metadata import strip_asset_computed
from dandelion_common.outbox import emit
from dandelion_common.settings import Environment
from dandelion_common.storage import ListedObject, S3Storage, zarr_key
from dandelion_ingest.resources import ingest_resources
from dandelion_ingest.zarr.checksum import Digest, StreamingZarrChecksum, ZarrIngestError

logger = logging.getLogger("dandelion.ingest.zarr")
T = TypeVar("T")

PROVISIONAL = ""  # the checksum of a snapshot still being built
BATCH = 1000  # entries per transaction (an S3 listing page)
READ_BATCH = 10_000  # entries per fetch when the checksum reads them back
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class Superseded(Exception):
    """Another run of the job dropped or finished the provisional snapshot this run builds."""


# -- entries ---------------------------------------------------------------------------------


async def record_entries(
    ctx: Context,
    zarr_id: uuid.UUID,
    snapshot_id: uuid.UUID,
    *,
    deadline: float,
    batch: int = BATCH,
) -> int:
    """Store the archive's current objects after the last stored path; returns how many.
    Past `deadline`, stops after a committed batch and asks arq to continue (Retry)."""
    storage: S3Storage = ingest_resources(ctx).storage
    prefix = zarr_key(zarr_id)
    after = await _last_path(ctx, snapshot_id)
    start_key = zarr_key(zarr_id, after) if after is not None else None
    written = 0
    listing = _prefetched(storage.zarr.latest_versions(prefix, after=start_key))
    async with aclosing(listing) as pages:
        async for page in pages:
            # S3 starts after the marker; the check keeps a restart right on a server that
            # would repeat it.
            rows = [_entry(snapshot_id, prefix, o) for o in page]
            rows = [r for r in rows if after is None or r["path"] > after]
            for first in range(0, len(rows), batch):
                chunk = rows[first : first + batch]
                await _write(ctx, chunk)
                written += len(chunk)
                if time.monotonic() > deadline:
                    logger.info("zarr ingest goes on in a new try", extra={"zarr_id": str(zarr_id)})
                    raise Retry(defer=0)
    return written


async def _prefetched(pages: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """`pages`, the next one listed while the caller writes the current one: the ingest
    then runs at the pace of the slower of S3's listing and the database's inserts."""
    ahead: asyncio.Future[T] = asyncio.ensure_future(anext(pages))
    try:
        while True:
            try:
                page = await ahead
            except StopAsyncIteration:
                return
            ahead = asyncio.ensure_future(anext(pages))
            yield page
    finally:
        ahead.cancel()
        await asyncio.gather(ahead, return_exceptions=True)
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()


async def _last_path(ctx: Context, snapshot_id: uuid.UUID) -> str | None:
    async with job_session(ctx) as session:
        query = select(func.max(ZarrSnapshotEntry.path)).where(
            ZarrSnapshotEntry.snapshot_id == snapshot_id
        )
        last: str | None = await session.scalar(query)
    return last


def _entry(snapshot_id: uuid.UUID, prefix: str, listed: ListedObject) -> dict[str, Any]:
    path = listed.key[len(prefix) :]
    if not _MD5.match(listed.etag):
        # A multipart upload's ETag is no MD5; DANDI's clients PUT each file whole.
        raise ZarrIngestError(f"{listed.key}: ETag {listed.etag!r} is not an MD5")
    if listed.version_id is None:
        raise ZarrIngestError(f"{listed.key}: no version id (is the zarr bucket versioned?)")
    return {
        "snapshot_id": snapshot_id,
        "path": path,
        "s3_version_id": listed.version_id,
        "md5": listed.etag,
        "size": listed.size,
        "last_modified": listed.last_modified,
    }


async def _write(ctx: Context, rows: list[dict[str, Any]]) -> None:
    # DO NOTHING: two runs of the job (arq may start a second) write the same entries.
    statement = insert(ZarrSnapshotEntry).on_conflict_do_nothing()
    try:
        async with job_session(ctx) as session:
            await session.execute(statement, rows)
    except IntegrityError as exc:  # the snapshot was dropped by another run
        raise Superseded from exc


async def checksum_of(ctx: Context, snapshot_id: uuid.UUID) -> Digest:
    """DANDI's zarr checksum of the snapshot's entries, read back in path order."""
    query = (
        select(ZarrSnapshotEntry.path, ZarrSnapshotEntry.md5, ZarrSnapshotEntry.size)
        .where(ZarrSnapshotEntry.snapshot_id == snapshot_id)
        .order_by(ZarrSnapshotEntry.path)
        .execution_options(yield_per=READ_BATCH)
    )
    with StreamingZarrChecksum() as tree:
        async with job_session(ctx) as session:
            async for path, md5, size in await session.stream(query):
                tree.add(path, md5, size)
        return tree.digest()


# -- the draft --------------------------------------------------------------------------------


async def point_draft_assets(
    session: AsyncSession, draft: Version, zarr_id: uuid.UUID, snapshot: ZarrSnapshot
) -> None:
    """The draft's assets of the archive describe `snapshot`; sizes and revision follow."""
    old_snapshot = aliased(ZarrSnapshot)
    query = (
        select(Asset, func.coalesce(old_snapshot.size, 0))
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .outerjoin(old_snapshot, old_snapshot.id == Asset.zarr_snapshot_id)
        .where(VersionAsset.version_id == draft.id, Asset.zarr_id == zarr_id)
    )
    held = list(await session.execute(query))
    if not held:
        return
    growth = 0
    for asset, old_size in held:
        current = await _repoint(session, draft, asset, snapshot)
        await asset_paths.resize(session, draft.id, asset.path, snapshot.size - old_size)
        growth += snapshot.size - old_size
        payload = ZarrAssetRef(asset_id=current.id, snapshot_id=snapshot.id)
        enqueue_after_commit(session, VALIDATE_ZARR_ASSET, payload)
    await assets_changed(session, draft.id, files=0, size=growth)


async def _repoint(
    session: AsyncSession, draft: Version, asset: Asset, snapshot: ZarrSnapshot
) -> Asset:
    """The asset row the draft holds from now on, pointed at `snapshot` and Pending."""
    if not asset.published:
        asset.zarr_snapshot_id, asset.status, asset.validation_errors = (
            snapshot.id, AssetStatus.PENDING, [],
        )  # fmt: skip
        emit(session, OutboxEntity.ASSET, asset.id)
        return asset
    # Published rows are shared with a published version, hence immutable: a new row
    # replaces it in the draft only (as any draft change does).
    replacement = Asset(
        id=uuid.uuid4(),
        path=asset.path,
        zarr_id=asset.zarr_id,
        zarr_snapshot_id=snapshot.id,
        metadata_={**strip_asset_computed(asset.metadata_), "path": asset.path},
        status=AssetStatus.PENDING,
        published=False,
    )
    session.add(replacement)
    await session.flush()
    await session.execute(
        update(VersionAsset)
        .where(VersionAsset.version_id == draft.id, VersionAsset.asset_id == asset.id)
        .values(asset_id=replacement.id, created=func.now())
    )
    await asset_paths.repoint(session, draft.id, asset.path, replacement.id)
    emit(session, OutboxEntity.ASSET, asset.id)  # no longer in the draft
    emit(session, OutboxEntity.ASSET, replacement.id)
    return replacement


# -- old snapshots, the bucket ---------------------------------------------------------------


async def delete_unreferenced(ctx: Context, zarr_id: uuid.UUID) -> int:
    """Delete the archive's finished snapshots no asset and no archive points to (their
    entries cascade); returns how many. Its own transaction: it may delete a million
    entries, which need not hold the archive's lock."""
    async with job_session(ctx) as session:
        deleted = await session.scalars(
            delete(ZarrSnapshot)
            .where(
                ZarrSnapshot.zarr_id == zarr_id,
                ZarrSnapshot.checksum != PROVISIONAL,
                ~exists().where(Asset.zarr_snapshot_id == ZarrSnapshot.id),
                ~exists().where(ZarrArchive.snapshot_id == ZarrSnapshot.id),
            )
            .returning(ZarrSnapshot.id)
        )
        count = len(deleted.all())
    if count:
        logger.info("old zarr snapshots deleted", extra={"zarr_id": str(zarr_id), "count": count})
    return count


class UnversionedZarrBucket(RuntimeError):
    """The zarr bucket keeps no object versions: published Zarrs could not keep their bytes."""


async def check_zarr_bucket_versioned(ctx: Context) -> None:
    """At startup: a production worker refuses to run on an unversioned zarr bucket (every
    ingest would fail, and an edit could overwrite a published chunk); elsewhere a warning.
    An S3 that cannot be reached is no reason to stop: the ingest checks each object anyway."""
    resources = ingest_resources(ctx)
    settings, zarrs = resources.settings, resources.storage.zarr
    try:
        if await zarrs.versioning_enabled():
            return
    except StorageError as exc:
        logger.warning("zarr bucket versioning unknown: %s", exc, extra={"bucket": zarrs.bucket})
        return
    message = f"the zarr bucket {zarrs.bucket} does not have S3 object versioning enabled"
    if settings.environment is Environment.PRODUCTION:
        raise UnversionedZarrBucket(f"refusing to start: {message}")
    logger.warning(message, extra={"bucket": zarrs.bucket})
