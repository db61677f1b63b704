"""The draft's `assetsSummary` (dandischema's aggregation over its Valid assets), recomputed
by a debounced job whenever an asset of the draft is validated, added or removed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from dandelion_common.db.enums import AssetStatus, OutboxEntity
from dandelion_common.db.models import Asset, AssetBlob, Version, VersionAsset, ZarrSnapshot
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import SUMMARIZE_VERSION, VersionRef
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.metadata import ZARR_FORMAT
from dandelion_common.outbox import emit

BATCH = 2000


async def summarize_drafts_of(session: AsyncSession, asset_id: uuid.UUID) -> None:
    """The asset's status changed: every draft holding it moves to a new asset revision and
    asks (after commit) for its summary."""
    held = select(VersionAsset.version_id).where(VersionAsset.asset_id == asset_id)
    drafts = await session.scalars(
        update(Version)
        .where(Version.id.in_(held), Version.version == "draft")
        .values(assets_revision=Version.assets_revision + 1, modified=Version.modified)
        .returning(Version.id)
    )
    for version_id in drafts.all():
        enqueue_after_commit(session, SUMMARIZE_VERSION, VersionRef(version_id=version_id))


def _documents(session: Session, version_id: int, revision: list[int]) -> Iterator[dict[str, Any]]:
    """The fields the aggregation reads, streamed in batches (a draft may hold 1M assets).
    One statement, so one snapshot: `revision` gets the asset revision the rows are of."""
    from dandischema.consts import ALLOWED_INPUT_SCHEMAS

    valid = and_(Asset.id == VersionAsset.asset_id, Asset.status == AssetStatus.VALID)
    # A zarr counts as one file of its snapshot's size (as on DANDI, whose zarr is one asset).
    size = func.coalesce(AssetBlob.size, ZarrSnapshot.size, 0)
    rows = session.execute(
        select(Version.assets_revision, Asset.path, Asset.metadata_, size, Asset.zarr_id)
        .select_from(Version)
        .outerjoin(VersionAsset, VersionAsset.version_id == Version.id)
        .outerjoin(Asset, valid)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .outerjoin(ZarrSnapshot, ZarrSnapshot.id == Asset.zarr_snapshot_id)
        .where(Version.id == version_id)
        .execution_options(yield_per=BATCH)
    )
    for assets_revision, path, metadata, content_size, zarr_id in rows:
        revision[:] = [assets_revision]
        # One asset of an unknown schema version must not break the whole summary.
        if metadata is not None and metadata.get("schemaVersion") in ALLOWED_INPUT_SCHEMAS:
            document = {**metadata, "path": path, "contentSize": content_size}
            if zarr_id is not None:  # forced on read, as the asset's document says
                document["encodingFormat"] = ZARR_FORMAT
            yield document


def aggregate(session: Session, version_id: int) -> tuple[dict[str, Any], int]:
    """The summary of the version's Valid assets, and the asset revision it describes."""
    from dandischema.metadata import aggregate_assets_summary

    revision = [0]
    summary: dict[str, Any] = aggregate_assets_summary(_documents(session, version_id, revision))
    return summary, revision[0]


@handler(SUMMARIZE_VERSION)
async def summarize_version(ctx: Context, payload: VersionRef) -> str:
    """Store the draft's assetsSummary without touching `modified` (it is derived data, not
    a revision: a pending validation of the current revision must stay current)."""
    async with job_session(ctx) as session:
        version = await session.get(Version, payload.version_id)
        if version is None or version.version != "draft":
            return "gone"
        summary, revision = await session.run_sync(aggregate, payload.version_id)
        await session.execute(
            update(Version)
            # A run that saw a newer revision has written a newer summary.
            .where(
                Version.id == payload.version_id,
                func.coalesce(Version.summary_revision, -1) < revision,
            )
            .values(
                metadata_=Version.metadata_.op("||")(
                    literal({"assetsSummary": summary}, type_=JSONB)
                ),
                summary_revision=revision,
                modified=Version.modified,
            )
        )
        emit(session, OutboxEntity.VERSION, payload.version_id)  # the facets come from it
    return f"{summary['numberOfFiles']} files"
