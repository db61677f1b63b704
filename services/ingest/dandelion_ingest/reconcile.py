"""The ingest reconcile: ask again for ingest work the database says is due, whose job was
lost (sent while Redis was away, or lost with a Redis that had no persistence).

Jobs are sent after their transaction commits, so a commit can happen without its job. DOIs
(the doi worker's reconcile) and search (the outbox) catch up by themselves; this sweep does
the same for ingest: blobs without a checksum or an extraction, Pending assets whose inputs
are known, Pending drafts, finalized Zarr archives, and the publishes and unembargoes asked
for (the request stores who asked: their jobs name the user). Each kind is read oldest
first, past a grace period (the ordinary path sends its job within milliseconds of the
commit), at most `BATCH` per run. Job ids are deterministic, so a job still queued, running
or recently done refuses the duplicate: asking again is always safe.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVarTuple

from arq.cron import CronJob, cron
from sqlalchemy import Select, select
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
    AssetChecksum,
    BlobRef,
    JobContract,
    Payload,
    PublishRequest,
    UnembargoRequest,
    VersionRevision,
    ZarrRef,
)
from dandelion_common.jobs.worker import Context, job_session
from dandelion_common.settings import Settings

GRACE = timedelta(minutes=5)
BATCH = 500

Due = list[tuple[JobContract[Any], Payload]]


Ts = TypeVarTuple("Ts")


def _oldest(query: Select[*Ts], column: Any, cutoff: datetime) -> Select[*Ts]:
    return query.where(column < cutoff).order_by(column).limit(BATCH)


async def _blobs(session: AsyncSession, cutoff: datetime) -> Due:
    unhashed = _oldest(
        select(AssetBlob.id).where(AssetBlob.sha256.is_(None)), AssetBlob.created, cutoff
    )
    unread = _oldest(
        select(AssetBlob.id).where(
            ~select(BlobExtract.blob_id).where(BlobExtract.blob_id == AssetBlob.id).exists()
        ),
        AssetBlob.created,
        cutoff,
    )
    due: Due = [(COMPUTE_SHA256, BlobRef(blob_id=i)) for i in await session.scalars(unhashed)]
    due += [(EXTRACT_NWB, BlobRef(blob_id=i)) for i in await session.scalars(unread)]
    return due


async def _assets(session: AsyncSession, cutoff: datetime) -> Due:
    """Pending assets whose validation can run: a blob with its checksum, or a snapshot."""
    query = _oldest(
        select(Asset.id, AssetBlob.sha256, BlobExtract.blob_id, Asset.zarr_snapshot_id)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .outerjoin(BlobExtract, BlobExtract.blob_id == Asset.blob_id)
        .where(
            Asset.status == AssetStatus.PENDING,
            (AssetBlob.sha256.is_not(None)) | (Asset.zarr_snapshot_id.is_not(None)),
        ),
        Asset.modified,
        cutoff,
    )
    due: Due = []
    for asset_id, sha256, extracted, snapshot_id in await session.execute(query):
        if snapshot_id is not None:
            payload = AssetChecksum(asset_id=asset_id, sha256=str(snapshot_id))
            due.append((VALIDATE_ZARR_ASSET, payload))
        else:
            payload = AssetChecksum(asset_id=asset_id, sha256=sha256, extracted=bool(extracted))
            due.append((VALIDATE_ASSET, payload))
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
        due = await _blobs(session, cutoff)
        due += await _assets(session, cutoff)
        due += await _drafts_and_zarrs(session, cutoff)
        due += await _requests(session, cutoff)
    sent = 0
    for contract, payload in due:
        if await ctx["queue"].enqueue(contract, payload) is not None:
            sent += 1
    return sent


def reconcile_cron(settings: Settings) -> CronJob | None:
    every = settings.worker.ingest_reconcile_minutes
    if not every:
        return None
    minutes = set(range(0, 60, every)) if every < 60 else {0}
    return cron(reconcile_ingest, name="reconcile_ingest", minute=minutes, unique=True)
