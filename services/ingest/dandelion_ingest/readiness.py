"""When a blob's facts arrive (checksum, NWB extraction), its pending assets get validated."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus
from dandelion_common.db.models import Asset, AssetBlob, BlobExtract
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import VALIDATE_ASSET, AssetChecksum


async def release_waiting_assets(session: AsyncSession, blob: AssetBlob) -> None:
    """Ask (after commit) for validation of every pending asset on `blob`."""
    extracted = await session.scalar(
        select(BlobExtract.blob_id).where(BlobExtract.blob_id == blob.id)
    )
    waiting = select(Asset.id).where(Asset.blob_id == blob.id, Asset.status == AssetStatus.PENDING)
    for asset_id in await session.scalars(waiting):
        payload = AssetChecksum(asset_id=asset_id, sha256=blob.sha256, extracted=bool(extracted))
        enqueue_after_commit(session, VALIDATE_ASSET, payload)
