"""The unembargo job: move an UNEMBARGOING dandiset's blobs to the public prefix, then open it.

Algorithm (every step may be repeated: arq is at-least-once, and a run may die anywhere)
1. Sweep: delete the embargoed keys of the dandiset's blobs already flagged open, the sources
   an earlier run recorded as moved but died before deleting. No orphan is left behind.
   Then the embargo tag is removed from the current objects of the dandiset's zarr
   archives (their keys do not move).
2. Take the ids of the embargoed blobs of the dandiset's assets (every version), once.
3. In batches: copy each blob `embargoed/blobs/...` → `blobs/...` inside S3, untagged, a
   bounded number at a time; record the batch (`embargoed=false`) in one transaction; delete
   its sources while the next batch is copied. A source is deleted only after its flag is
   committed false, so a blob still flagged embargoed always has its source, and copying it
   again is harmless.
4. In one transaction, under the dandiset's row lock: OPEN, `embargo_end_date` today, the
   draft and its assets back to Pending and asked to validate again (their `access` is now
   OpenAccess), search told, the audit record, and the concept DOI asked for. Should a blob
   have become embargoed meanwhile (an asset added by a request that checked the status
   before the unembargo started), nothing is committed and the job goes back to step 2.

A blob shared with another dandiset that is still embargoed is moved too, as DANDI does:
once this dandiset is open its bytes are public through it anyway, and what the embargo
still protects for the other dandiset (its assets, paths, metadata) is refused by its own
dandiset's status. (Only blobs from before migration 0011 can be shared so: since then an
embargoed upload is a blob of its dandiset's own, and equal bytes elsewhere are another.)

S3 or database outages raise the shared handler's Retry; anything else fails the job with a
log, leaving the dandiset UNEMBARGOING (writes stay refused) until the job is run again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from arq import Retry
from dandischema.digests.dandietag import PartGenerator
from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common import audit
from dandelion_common.db.enums import (
    AssetStatus,
    DoiTarget,
    EmbargoStatus,
    OutboxEntity,
    VersionStatus,
)
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    Dandiset,
    User,
    Version,
    VersionAsset,
    ZarrArchive,
)
from dandelion_common.dois import want_doi
from dandelion_common.errors import TRANSIENT_ERRORS, StorageError, StorageUnavailable
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import (
    REVALIDATE_UNEMBARGOED_ASSET,
    UNEMBARGO,
    VALIDATE_VERSION,
    AssetRef,
    UnembargoRequest,
    VersionRevision,
)
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.outbox import emit
from dandelion_common.settings import Settings, WorkerSettings
from dandelion_common.storage import S3Storage, blob_key, zarr_key
from dandelion_ingest.resources import ingest_resources

T = TypeVar("T")
logger = logging.getLogger("dandelion.ingest.embargo")

BATCH = 500  # blobs recorded per transaction
CONCURRENCY = 32  # copies in flight
# Passes over the blobs before giving up on blobs that keep becoming embargoed.
MAX_PASSES = 3
# Left to the shared handler (retried later) instead of logged as a failure here.
RETRIED: tuple[type[BaseException], ...] = (Retry, *TRANSIENT_ERRORS)


@dataclass(frozen=True)
class Blob:
    id: uuid.UUID
    size: int


class UnembargoError(Exception):
    """The job cannot go on (not an outage): it fails, the dandiset stays UNEMBARGOING."""


@handler(UNEMBARGO)
async def unembargo(ctx: Context, payload: UnembargoRequest) -> str:
    """Move the blobs and open the dandiset; returns early if it is not UNEMBARGOING."""
    extra = {"dandiset_id": payload.dandiset_id}
    if not await _unembargoing(ctx, payload.dandiset_id):
        return "not unembargoing"
    try:
        moved = await _unembargo(ctx, payload)
    except RETRIED:
        raise
    except Exception:
        logger.exception("unembargo failed; the dandiset stays UNEMBARGOING", extra=extra)
        raise
    logger.info("dandiset unembargoed", extra={**extra, "blobs_moved": moved})
    return f"open ({moved} blobs moved)"


async def _unembargo(ctx: Context, payload: UnembargoRequest) -> int:
    deadline = _deadline(ingest_resources(ctx).settings.worker)
    await sweep(ctx, payload.dandiset_id)
    await untag_zarrs(ctx, payload.dandiset_id)
    moved = 0
    for _ in range(MAX_PASSES):
        moved += await move_blobs(ctx, payload.dandiset_id, deadline=deadline)
        if await open_dandiset(ctx, payload):
            return moved
    raise UnembargoError(f"dandiset {payload.dandiset_id}: blobs keep becoming embargoed")


def _deadline(settings: WorkerSettings) -> float:
    # arq cancels a job at its timeout; stop a little before and go on in a fresh try instead
    # (each batch is committed, so nothing is lost).
    timeout = settings.job_timeout_seconds
    return time.monotonic() + timeout - min(60.0, timeout / 10)


async def _unembargoing(ctx: Context, dandiset_id: int) -> bool:
    async with job_session(ctx) as session:
        status = await session.scalar(
            select(Dandiset.embargo_status).where(Dandiset.id == dandiset_id)
        )
    return status is EmbargoStatus.UNEMBARGOING


def _of_dandiset(dandiset_id: int) -> ColumnElement[bool]:
    """The blob is used by an asset of some version of the dandiset."""
    return exists().where(
        Asset.blob_id == AssetBlob.id,
        VersionAsset.asset_id == Asset.id,
        Version.id == VersionAsset.version_id,
        Version.dandiset_id == dandiset_id,
    )


# -- moving blobs --------------------------------------------------------------------------


async def move_blobs(ctx: Context, dandiset_id: int, *, deadline: float) -> int:
    """Move every blob of the dandiset still flagged embargoed; returns how many."""
    storage: S3Storage = ingest_resources(ctx).storage
    async with job_session(ctx) as session:
        query = (
            select(AssetBlob.id, AssetBlob.size)
            .where(AssetBlob.embargoed, _of_dandiset(dandiset_id))
            .order_by(AssetBlob.id)
        )
        blobs = [Blob(row.id, row.size) for row in await session.execute(query)]
    deleting: asyncio.Task[None] | None = None
    try:
        for start in range(0, len(blobs), BATCH):
            if time.monotonic() > deadline:
                logger.info("unembargo goes on in a new try", extra={"dandiset_id": dandiset_id})
                raise Retry(defer=0)
            batch = blobs[start : start + BATCH]
            await copy_all(storage, batch)
            await _record_open(ctx, [b.id for b in batch])
            if deleting is not None:
                await deleting
            # A batch's sources are deleted while the next batch is copied; should the run
            # die first, the next run's sweep deletes them.
            keys = [blob_key(b.id, embargoed=True) for b in batch]
            deleting = asyncio.ensure_future(storage.delete_many(keys))
        if deleting is not None:
            await deleting
    finally:
        if deleting is not None:
            deleting.cancel()  # nothing when done; and its error, if any, is collected here
            await asyncio.gather(deleting, return_exceptions=True)
    return len(blobs)


async def copy_all(storage: S3Storage, blobs: Sequence[Blob]) -> None:
    """Copy the blobs, CONCURRENCY at a time; the first failure stops the others."""
    await each_concurrently(blobs, lambda blob: copy_blob(storage, blob))


async def each_concurrently(items: Sequence[T], act: Callable[[T], Awaitable[None]]) -> None:
    """`act` on every item, CONCURRENCY at a time; the first failure cancels the others."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:  # one shared iterator: each item is taken by one worker
            await act(item)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(CONCURRENCY, len(items)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _part_size(size: int) -> int | None:
    """The blob's dandi-etag part size when it has several parts (None: one CopyObject).

    Copying part by part bounds each request to one part, and on AWS gives the copy the same
    multipart ETag as the upload; a blob of one part is copied whole.
    """
    plan = PartGenerator.for_file_size(size)
    return plan.initial_part_size if len(plan) > 1 else None


async def copy_blob(storage: S3Storage, blob: Blob) -> None:
    src, dst = blob_key(blob.id, embargoed=True), blob_key(blob.id)
    part_size = _part_size(blob.size)
    # Copying a small blob again costs what looking for an earlier copy would; a large copy
    # made by a run that died before recording it is worth a HEAD.
    if part_size is not None and await _present(storage, dst, blob.size):
        return
    try:
        await storage.copy(src, dst, blob.size, part_size=part_size)
    except StorageUnavailable:
        raise
    except StorageError as exc:
        # A concurrent run of this job (arq may start one) may have moved it already.
        if not await _present(storage, dst, blob.size):
            raise UnembargoError(f"blob {blob.id}: cannot copy {src} to {dst}: {exc}") from exc


async def _present(storage: S3Storage, key: str, size: int) -> bool:
    # S3 writes whole objects, so a copy of the right size is a finished copy.
    found = await storage.head(key)
    return found is not None and found.size == size


async def _record_open(ctx: Context, blob_ids: list[uuid.UUID]) -> None:
    async with job_session(ctx) as session:
        await session.execute(
            update(AssetBlob)
            .where(AssetBlob.id.in_(blob_ids), AssetBlob.embargoed)
            .values(embargoed=False)
        )


async def sweep(ctx: Context, dandiset_id: int) -> None:
    """Delete the embargoed keys of the dandiset's blobs already open: sources an earlier run
    recorded as moved but did not delete (a missing key costs a little; a first run finds
    few or no open blobs)."""
    async with job_session(ctx) as session:
        query = select(AssetBlob.id).where(
            AssetBlob.embargoed.is_(False), _of_dandiset(dandiset_id)
        )
        ids = list(await session.scalars(query))
    await ingest_resources(ctx).storage.delete_many([blob_key(i, embargoed=True) for i in ids])


# -- zarr archives -------------------------------------------------------------------------


async def untag_zarrs(ctx: Context, dandiset_id: int) -> int:
    """Remove the embargo tag from the current objects of the dandiset's zarr archives, which
    stay where they are (zarr keys do not depend on the embargo); returns how many. A repeat
    is harmless: untagging an untagged object changes nothing."""
    async with job_session(ctx) as session:
        query = select(ZarrArchive.id).where(ZarrArchive.dandiset_id == dandiset_id)
        zarr_ids = list(await session.scalars(query))
    storage: S3Storage = ingest_resources(ctx).storage.zarr
    untagged = 0
    for zarr_id in zarr_ids:
        async for page in storage.latest_versions(zarr_key(zarr_id)):
            await untag_all(storage, [listed.key for listed in page])
            untagged += len(page)
    return untagged


async def untag_all(storage: S3Storage, keys: Sequence[str]) -> None:
    """Untag the keys, CONCURRENCY at a time (S3 has no batch call for tags)."""
    await each_concurrently(keys, storage.delete_tags)


# -- opening the dandiset ------------------------------------------------------------------


async def open_dandiset(ctx: Context, payload: UnembargoRequest) -> bool:
    """OPEN, with everything that follows, in one transaction; False if a blob of the
    dandiset is still embargoed (nothing is changed then)."""
    settings: Settings = ingest_resources(ctx).settings
    async with job_session(ctx) as session:
        query = select(Dandiset).where(Dandiset.id == payload.dandiset_id).with_for_update()
        dandiset = await session.scalar(query)
        if dandiset is None or dandiset.embargo_status is not EmbargoStatus.UNEMBARGOING:
            return True  # another run finished it
        leftover = select(AssetBlob.id).where(AssetBlob.embargoed, _of_dandiset(dandiset.id))
        if await session.scalar(leftover.limit(1)) is not None:
            return False
        dandiset.embargo_status = EmbargoStatus.OPEN
        dandiset.embargo_end_date = datetime.now(UTC).date()
        await _draft_pending(session, dandiset.id)
        emit(session, OutboxEntity.DANDISET, dandiset.id)  # its assets are re-indexed with it
        audit.record(
            session, await _requester(session, payload.user_id), dandiset.id,
            "unembargo_dandiset", {},
        )  # fmt: skip
        await want_doi(session, settings, dandiset.id, DoiTarget.DRAFT)
    return True


async def _draft_pending(session: AsyncSession, dandiset_id: int) -> None:
    """The draft and its assets back to Pending, each asked to validate again after commit."""
    draft_query = select(Version).where(
        Version.dandiset_id == dandiset_id, Version.version == "draft"
    )
    draft = await session.scalar(draft_query.with_for_update())
    if draft is None:
        return
    in_draft = select(VersionAsset.asset_id).where(VersionAsset.version_id == draft.id)
    await session.execute(
        update(Asset)
        .where(Asset.id.in_(in_draft), Asset.published.is_(False))
        .values(status=AssetStatus.PENDING)
    )
    for payload in await _revalidations(session, draft.id):
        enqueue_after_commit(session, REVALIDATE_UNEMBARGOED_ASSET, payload)
    draft.status = VersionStatus.PENDING
    await session.flush()  # `modified` (the revision validation is asked for) is set by SQL
    await session.refresh(draft, ["modified"])
    revision = VersionRevision(version_id=draft.id, revision=draft.modified.isoformat())
    enqueue_after_commit(session, VALIDATE_VERSION, revision)
    emit(session, OutboxEntity.VERSION, draft.id)


async def _revalidations(session: AsyncSession, draft_id: int) -> list[AssetRef]:
    """The draft's Pending assets on ready blobs; those on blobs not ready yet are asked for
    when their blob becomes ready (dandelion_ingest.readiness)."""
    query = (
        select(Asset.id)
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .join(AssetBlob, AssetBlob.id == Asset.blob_id)
        .where(
            VersionAsset.version_id == draft_id,
            Asset.status == AssetStatus.PENDING,
            AssetBlob.ready_at.is_not(None),
        )
    )
    return [AssetRef(asset_id=asset_id) for asset_id in await session.scalars(query)]


async def _requester(session: AsyncSession, user_id: int) -> User:
    """Who asked; a user deleted since is recorded without a name."""
    user = await session.get(User, user_id)
    return user or User(username="", email="", first_name="", last_name="")
