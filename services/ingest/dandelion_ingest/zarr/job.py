"""The Zarr ingest job: freeze a finalized archive's current files as a snapshot with DANDI's
zarr checksum, then point the draft's zarr assets at it (docs/zarr.md, Flow step 4). Steps
2, 3 and 5 are `snapshot.py`'s; the checksum itself is `checksum.py`'s.

Algorithm (arq may run it twice, and a run may die anywhere)
1. Under the archive's row lock: only Uploaded or Ingesting archives are ingested. Uploaded
   means a fresh start: a provisional snapshot (checksum "") left by a run before the last
   change is stale and dropped. Ingesting means an earlier run died: its provisional snapshot
   holds a prefix (in key order) of the same listing, and is continued. Status → Ingesting.
2. The current object versions are listed from after the greatest path already stored, and
   written as entries, each batch in its own transaction: a killed run loses one batch at
   most, and never leaves a gap (pages come in key order).
3. The checksum is computed from the entries read back in path order, by a streaming
   version of zarr_checksum's tree (memory: one open folder per level, not the whole tree).
4. In one transaction, under the archive's and the draft's row locks: if the archive changed
   meanwhile (the API sets Pending when files are added or deleted) the provisional snapshot
   is dropped; else it gets its checksum, the archive is Complete, and the draft's assets of
   the archive point at it (in place, or as a new row when the asset is published).
5. Snapshots of the archive no asset and no archive points to any more are deleted.

S3 and database outages raise the shared handler's Retry (the job continues where it was).
"""

from __future__ import annotations

import logging
import time
import uuid

from arq import Retry
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import VersionStatus, ZarrStatus
from dandelion_common.db.models import Version, ZarrArchive, ZarrSnapshot
from dandelion_common.jobs.contracts import INGEST_ZARR, ZarrRef
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.settings import WorkerSettings
from dandelion_ingest.resources import ingest_resources
from dandelion_ingest.zarr.checksum import Digest
from dandelion_ingest.zarr.snapshot import (
    PROVISIONAL,
    Superseded,
    checksum_of,
    delete_unreferenced,
    point_draft_assets,
    record_entries,
)

logger = logging.getLogger("dandelion.ingest.zarr")
PUBLISHING_RETRY_SECONDS = 5


@handler(INGEST_ZARR)
async def ingest_zarr(ctx: Context, payload: ZarrRef) -> str:
    """Snapshot a finalized archive and point the draft's assets at it."""
    extra = {"zarr_id": str(payload.zarr_id)}
    snapshot_id = await start(ctx, payload.zarr_id)
    if snapshot_id is None:
        return "nothing to ingest"
    try:
        await record_entries(ctx, payload.zarr_id, snapshot_id, deadline=_deadline(ctx))
        digest = await checksum_of(ctx, snapshot_id)
        outcome = await finish(ctx, payload.zarr_id, snapshot_id, digest)
    except Superseded:
        return "superseded"
    if outcome == "refinalized":
        # Changed and finalized again while this run listed: its own job id may have been
        # refused (this one was still known), so this job ingests again.
        raise Retry(defer=1)
    if outcome == "complete":
        await delete_unreferenced(ctx, payload.zarr_id)
        logger.info("zarr ingested", extra={**extra, "checksum": digest.checksum})
        return digest.checksum
    return outcome


def _deadline(ctx: Context) -> float:
    # arq cancels a job at its timeout; stop a little before and continue in a fresh try
    # (every batch is committed, so nothing is lost).
    settings: WorkerSettings = ingest_resources(ctx).settings.worker
    timeout = settings.job_timeout_seconds
    return time.monotonic() + timeout - min(60.0, timeout / 10)


# -- 1. start --------------------------------------------------------------------------------


async def start(ctx: Context, zarr_id: uuid.UUID) -> uuid.UUID | None:
    """The provisional snapshot to fill (new, or an earlier run's); None: nothing to do."""
    async with job_session(ctx) as session:
        archive = await session.get(ZarrArchive, zarr_id, with_for_update=True)
        if archive is None or archive.status not in (ZarrStatus.UPLOADED, ZarrStatus.INGESTING):
            return None
        provisional = select(ZarrSnapshot.id).where(
            ZarrSnapshot.zarr_id == zarr_id, ZarrSnapshot.checksum == PROVISIONAL
        )
        if archive.status is ZarrStatus.UPLOADED:
            # Built before the last change: its entries may name files since replaced.
            await session.execute(delete(ZarrSnapshot).where(ZarrSnapshot.id.in_(provisional)))
        elif (found := await session.scalar(provisional.limit(1))) is not None:
            return found
        archive.status = ZarrStatus.INGESTING
        snapshot = ZarrSnapshot(zarr_id=zarr_id, checksum=PROVISIONAL, file_count=0, size=0)
        session.add(snapshot)
        await session.flush()
        return snapshot.id


# -- 4. finish -------------------------------------------------------------------------------


async def finish(ctx: Context, zarr_id: uuid.UUID, snapshot_id: uuid.UUID, digest: Digest) -> str:
    """Complete the archive with the snapshot and update the draft, in one transaction;
    returns "complete", "changed" (the snapshot is dropped), "refinalized" or "gone"."""
    async with job_session(ctx) as session:
        archive = await session.get(ZarrArchive, zarr_id, with_for_update=True)
        snapshot = await session.get(ZarrSnapshot, snapshot_id, with_for_update=True)
        if archive is None:
            return "gone"
        if snapshot is None or snapshot.checksum != PROVISIONAL:
            raise Superseded
        if archive.status is not ZarrStatus.INGESTING:
            # Files were added or deleted while this run listed: what it saw is stale.
            await session.delete(snapshot)
            return "refinalized" if archive.status is ZarrStatus.UPLOADED else "changed"
        draft = await _draft(session, archive.dandiset_id)
        if draft is not None and draft.status is VersionStatus.PUBLISHING:
            # The publish job copies the draft it checked; the draft changes after it.
            raise Retry(defer=PUBLISHING_RETRY_SECONDS)
        snapshot.checksum, snapshot.file_count, snapshot.size = (
            digest.checksum, digest.file_count, digest.size,
        )  # fmt: skip
        archive.status, archive.snapshot_id = ZarrStatus.COMPLETE, snapshot.id
        archive.checksum, archive.file_count, archive.size = (
            digest.checksum, digest.file_count, digest.size,
        )  # fmt: skip
        if draft is not None:
            await point_draft_assets(session, draft, zarr_id, snapshot)
    return "complete"


async def _draft(session: AsyncSession, dandiset_id: int) -> Version | None:
    query = select(Version).where(Version.dandiset_id == dandiset_id, Version.version == "draft")
    return await session.scalar(query.with_for_update())
