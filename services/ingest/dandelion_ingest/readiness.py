"""When a blob is ready for validation, and the one request for each asset on it.

A blob is ready when every fact validation reads from it is known: its SHA-256
(PublishedAsset requires the digest) and the outcome of its NWB extraction, extracted or
failed. Extraction is tried on every blob, because a blob is uploaded before any asset names
it and an asset's `.nwb` path or encodingFormat decides only later whether the outcome
matters; so readiness is a fact about the blob alone and holds for any asset created on it
later. `AssetBlob.ready_at` records it; it is never unset.

Validation is asked for exactly once per asset, on one of two events:
- the asset is created on a blob already ready (the API, which reads `ready_at` under the
  blob's row lock FOR SHARE, held until its commit);
- its blob becomes ready: `settle` below, run by whichever of the checksum and extract jobs
  records the last missing fact. It asks for every Pending asset on the blob.

The row lock orders the three writers. Each ingest job takes the blob FOR UPDATE, records its
fact and calls `settle` in the same transaction, so the two jobs run one after the other: the
first finds the other's fact missing and leaves the blob unready, the second (its statements
see what the first committed) finds both and sets `ready_at`. Neither both miss it nor both
fire. An asset being created holds the lock FOR SHARE: a job finishing meanwhile waits for
the API's commit, then sees the new asset among the Pending ones; a job that committed first
is seen by the API's read, which then asks itself. So no asset is asked for twice or never.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus
from dandelion_common.db.models import Asset, AssetBlob, BlobExtract
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import VALIDATE_ASSET, AssetRef


async def settle(session: AsyncSession, blob: AssetBlob) -> bool:
    """Mark `blob` ready if its facts are now complete, asking (after commit) for validation
    of its Pending assets; True if it became ready now. Call with the blob's row locked FOR
    UPDATE, in the transaction that recorded the fact."""
    if blob.ready_at is not None or blob.sha256 is None:
        return False
    if not await session.scalar(select(exists().where(BlobExtract.blob_id == blob.id))):
        return False
    blob.ready_at = datetime.now(UTC)
    await release_waiting_assets(session, blob)
    return True


async def release_waiting_assets(session: AsyncSession, blob: AssetBlob) -> None:
    """Ask (after commit) for validation of every pending asset on `blob`."""
    waiting = select(Asset.id).where(Asset.blob_id == blob.id, Asset.status == AssetStatus.PENDING)
    for asset_id in await session.scalars(waiting):
        enqueue_after_commit(session, VALIDATE_ASSET, AssetRef(asset_id=asset_id))
