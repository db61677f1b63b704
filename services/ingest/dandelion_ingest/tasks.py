"""Ingest jobs. Each takes ids, re-reads state under a row lock and returns early when there
is nothing (or no longer anything) to do: arq may run a job twice."""

from __future__ import annotations

import logging

from sqlalchemy import select

from dandelion_common.db.enums import AssetStatus, VersionStatus
from dandelion_common.db.models import Asset, AssetBlob, Dandiset, Version
from dandelion_common.jobs.contracts import (
    VALIDATE_ASSET,
    VALIDATE_VERSION,
    AssetChecksum,
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
