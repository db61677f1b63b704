"""The ingest reconcile: ask again for ingest work the database says is due, whose job was
lost (sent while Redis was away, or lost with a Redis that had no persistence).

Jobs are sent after their transaction commits, so a commit can happen without its job. DOIs
(the doi worker's reconcile) and search (the outbox) catch up by themselves; this sweep does
the same for ingest: blobs without a checksum or an extraction, Pending assets on ready
blobs (or with a snapshot), Pending drafts, finalized Zarr archives, and the publishes and
unembargoes asked for (the request stores who asked: their jobs name the user). Each kind is
read oldest first, past a grace period (the ordinary path sends its job within milliseconds
of the commit), at most `BATCH` per run. Job ids are deterministic, so a job still queued,
running or recently done refuses the duplicate: asking again is always safe.

One repair is done in place rather than asked for: a blob with both its facts but no
`ready_at` (recorded by a worker of a version before readiness existed, during a deploy) is
settled here, in the sweep's one transaction, as its last job would have done.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVarTuple

from arq.cron import CronJob, cron
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, EmbargoStatus, VersionStatus, ZarrStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    BlobExtract,
    Dandiset,
    Version,
    ZarrArchive,
)
from dandelion_common.jobs.contracts import (
    COMPUTE_SHA256,
    EXTRACT_NWB,
    INGEST_ZARR,
    PUBLISH_VERSION,
    UNEMBARGO,
    VALIDATE_ASSET,
    VALIDATE_VERSION,
    VALIDATE_ZARR_ASSET,
    AssetRef,
    BlobRef,
    JobContract,
    Payload,
    PublishRequest,
    UnembargoRequest,
    VersionRevision,
    ZarrAssetRef,
    ZarrRef,
)
from dandelion_common.jobs.worker import Context, job_session
from dandelion_common.settings import Settings
from dandelion_ingest.readiness import settle
from dandelion_ingest.resources import ingest_resources

GRACE = timedelta(minutes=5)
BATCH = 500

Due = list[tuple[JobContract[Any], Payload]]


Ts = TypeVarTuple("Ts")


def _oldest(query: Select[*Ts], column: Any, cutoff: datetime) -> Select[*Ts]:
    return query.where(column < cutoff).order_by(column).limit(BATCH)


def _extracted() -> ColumnElement[bool]:
    return select(BlobExtract.blob_id).where(BlobExtract.blob_id == AssetBlob.id).exists()


def _unready(*where: ColumnElement[bool]) -> Select[uuid.UUID]:
    # A blob missing a fact is never ready: the partial index on unready blobs serves these.
    return select(AssetBlob.id).where(AssetBlob.ready_at.is_(None), *where)


async def _blobs(session: AsyncSession, cutoff: datetime) -> Due:
    unhashed = _oldest(_unready(AssetBlob.sha256.is_(None)), AssetBlob.created, cutoff)
    unread = _oldest(_unready(~_extracted()), AssetBlob.created, cutoff)
    due: Due = [(COMPUTE_SHA256, BlobRef(blob_id=i)) for i in await session.scalars(unhashed)]
    due += [(EXTRACT_NWB, BlobRef(blob_id=i)) for i in await session.scalars(unread)]
    return due


async def _settle_blobs(session: AsyncSession, cutoff: datetime) -> None:
    """Blobs with both facts but not marked ready: settled as their last job would have (it
    asks, after the sweep's commit, for their Pending assets), under the same row lock. A
    blob locked meanwhile (by a job, or an asset being created on it) waits for the next
    sweep rather than hold this one up."""
    complete = _unready(AssetBlob.sha256.is_not(None), _extracted())
    ids = _oldest(complete, AssetBlob.created, cutoff).subquery()
    query = select(AssetBlob).where(AssetBlob.id.in_(select(ids.c.id)))
    for blob in await session.scalars(query.with_for_update(skip_locked=True)):
        await settle(session, blob)


async def _assets(session: AsyncSession, cutoff: datetime) -> Due:
    """Pending assets whose validation can run: on a ready blob, or with a snapshot."""
    query = _oldest(
        select(Asset.id, Asset.zarr_snapshot_id)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .where(
            Asset.status == AssetStatus.PENDING,
            (AssetBlob.ready_at.is_not(None)) | (Asset.zarr_snapshot_id.is_not(None)),
        ),
        Asset.modified,
        cutoff,
    )
    due: Due = []
    for asset_id, snapshot_id in await session.execute(query):
        if snapshot_id is not None:
            zarr = ZarrAssetRef(asset_id=asset_id, snapshot_id=snapshot_id)
            due.append((VALIDATE_ZARR_ASSET, zarr))
        else:
            due.append((VALIDATE_ASSET, AssetRef(asset_id=asset_id)))
    return due


async def _drafts_and_zarrs(session: AsyncSession, cutoff: datetime) -> Due:
    drafts = _oldest(
        select(Version.id, Version.modified).where(
            Version.version == "draft", Version.status == VersionStatus.PENDING
        ),
        Version.modified,
        cutoff,
    )
    due: Due = [
        (VALIDATE_VERSION, VersionRevision(version_id=i, revision=modified.isoformat()))
        for i, modified in await session.execute(drafts)
    ]
    finalized = _oldest(
        select(ZarrArchive.id).where(
            ZarrArchive.status.in_([ZarrStatus.UPLOADED, ZarrStatus.INGESTING])
        ),
        ZarrArchive.modified,
        cutoff,
    )
    due += [(INGEST_ZARR, ZarrRef(zarr_id=i)) for i in await session.scalars(finalized)]
    return due


async def _requests(session: AsyncSession, cutoff: datetime) -> Due:
    """Drafts left Publishing and dandisets left UNEMBARGOING by a job never sent. A job
    running, queued or (unembargo) recently failed holds its id, so it is not doubled."""
    drafts = _oldest(
        select(Version.dandiset_id, Version.publish_requested_by).where(
            Version.version == "draft",
            Version.status == VersionStatus.PUBLISHING,
            Version.publish_requested_by.is_not(None),
        ),
        Version.publish_requested_at,
        cutoff,
    )
    due: Due = [
        (PUBLISH_VERSION, PublishRequest(dandiset_id=dandiset_id, user_id=user_id))
        for dandiset_id, user_id in await session.execute(drafts)
    ]
    unembargoing = _oldest(
        select(Dandiset.id, Dandiset.unembargo_requested_by).where(
            Dandiset.embargo_status == EmbargoStatus.UNEMBARGOING,
            Dandiset.unembargo_requested_by.is_not(None),
        ),
        Dandiset.unembargo_requested_at,
        cutoff,
    )
    due += [
        (UNEMBARGO, UnembargoRequest(dandiset_id=dandiset_id, user_id=user_id))
        for dandiset_id, user_id in await session.execute(unembargoing)
    ]
    return due


async def reconcile_ingest(ctx: Context) -> int:
    """Send every due job again; returns how many the queue accepted (the rest were known)."""
    cutoff = datetime.now(UTC) - GRACE
    async with job_session(ctx) as session:
        await _settle_blobs(session, cutoff)
        due = await _blobs(session, cutoff)
        due += await _assets(session, cutoff)
        due += await _drafts_and_zarrs(session, cutoff)
        due += await _requests(session, cutoff)
    sent = 0
    for contract, payload in due:
        if await ingest_resources(ctx).queue.enqueue(contract, payload) is not None:
            sent += 1
    return sent


def reconcile_cron(settings: Settings) -> CronJob | None:
    every = settings.worker.ingest_reconcile_minutes
    if not every:
        return None
    minutes = set(range(0, 60, every)) if every < 60 else {0}
    return cron(reconcile_ingest, name="reconcile_ingest", minute=minutes, unique=True)
