"""The draft's `assetsSummary` (dandischema's aggregation over its Valid assets), recomputed
by a debounced job whenever an asset of the draft is validated, added or removed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from dandelion_common.db.enums import AssetStatus, OutboxEntity
from dandelion_common.db.models import Asset, AssetBlob, Version, VersionAsset
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import SUMMARIZE_VERSION, VersionRef
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.outbox import emit

BATCH = 2000


async def summarize_drafts_of(session: AsyncSession, asset_id: uuid.UUID) -> None:
    """Ask (after commit) for the summary of every draft holding the asset."""
    drafts = (
        select(Version.id)
        .join(VersionAsset, VersionAsset.version_id == Version.id)
        .where(VersionAsset.asset_id == asset_id, Version.version == "draft")
    )
    for version_id in await session.scalars(drafts):
        enqueue_after_commit(session, SUMMARIZE_VERSION, VersionRef(version_id=version_id))


def _documents(session: Session, version_id: int) -> Iterator[dict[str, Any]]:
    """The fields the aggregation reads, streamed in batches (a draft may hold 1M assets)."""
    from dandischema.consts import ALLOWED_INPUT_SCHEMAS

    rows = session.execute(
        select(Asset.path, Asset.metadata_, AssetBlob.size)
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .join(AssetBlob, AssetBlob.id == Asset.blob_id)
        .where(VersionAsset.version_id == version_id, Asset.status == AssetStatus.VALID)
        .execution_options(yield_per=BATCH)
    )
    for path, metadata, size in rows:
        # One asset of an unknown schema version must not break the whole summary.
        if metadata.get("schemaVersion") in ALLOWED_INPUT_SCHEMAS:
            yield {**metadata, "path": path, "contentSize": size}


def aggregate(session: Session, version_id: int) -> dict[str, Any]:
    from dandischema.metadata import aggregate_assets_summary

    summary: dict[str, Any] = aggregate_assets_summary(_documents(session, version_id))
    return summary


@handler(SUMMARIZE_VERSION)
async def summarize_version(ctx: Context, payload: VersionRef) -> str:
    """Store the draft's assetsSummary without touching `modified` (it is derived data, not
    a revision: a pending validation of the current revision must stay current)."""
    async with job_session(ctx) as session:
        version = await session.get(Version, payload.version_id)
        if version is None or version.version != "draft":
            return "gone"
        summary = await session.run_sync(aggregate, payload.version_id)
        await session.execute(
            update(Version)
            .where(Version.id == payload.version_id)
            .values(
                metadata_=Version.metadata_.op("||")(
                    literal({"assetsSummary": summary}, type_=JSONB)
                ),
                modified=Version.modified,
            )
        )
        emit(session, OutboxEntity.VERSION, payload.version_id)  # the facets come from it
    return f"{summary['numberOfFiles']} files"
