"""Ingest jobs. Each takes ids, re-reads state under a row lock and returns early when there
is nothing (or no longer anything) to do: arq may run a job twice.

The validation jobs here read only the database: each runs in one transaction, committed
once at its end, with no remote I/O inside it (the S3 and NWB reads validation depends on
were done, and stored, by the checksum and extract jobs).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import (
    AssetStatus,
    EmbargoStatus,
    ExtractStatus,
    OutboxEntity,
    VersionStatus,
)
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    BlobExtract,
    Dandiset,
    Version,
    ZarrArchive,
    ZarrSnapshot,
)
from dandelion_common.jobs.contracts import (
    VALIDATE_ASSET,
    VALIDATE_VERSION,
    AssetRef,
    VersionRevision,
)
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.metadata import (
    asset_errors,
    asset_full_metadata,
    full_metadata,
    version_errors,
    zarr_asset_full_metadata,
)
from dandelion_common.outbox import emit
from dandelion_common.settings import Settings
from dandelion_ingest.resources import ingest_resources
from dandelion_ingest.summary import summarize_drafts_of

logger = logging.getLogger("dandelion.ingest")


@handler(VALIDATE_VERSION)
async def validate_version(ctx: Context, payload: VersionRevision) -> str:
    """Validate a draft's metadata as if it were published: Valid, or Invalid with errors."""
    settings: Settings = ingest_resources(ctx).settings
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


NWB_FORMAT = "application/x-nwb"


def is_nwb(asset: Asset) -> bool:
    return (
        asset.path.lower().endswith(".nwb") or asset.metadata_.get("encodingFormat") == NWB_FORMAT
    )


def merge_extracted(client: dict[str, Any], extracted: dict[str, Any]) -> dict[str, Any]:
    """The client's metadata wins (DANDI stores what the client extracted); the server's
    extraction fills what it left out, and adds the Session when the client sent none."""
    merged = dict(client)
    for key, value in extracted.items():
        if key == "wasGeneratedBy":
            continue
        if merged.get(key) in (None, "", [], {}):
            merged[key] = value
    activities = list(merged.get("wasGeneratedBy") or [])
    has_session = any(a.get("schemaKey") == "Session" for a in activities if isinstance(a, dict))
    sessions = [a for a in extracted.get("wasGeneratedBy") or [] if a.get("schemaKey") == "Session"]
    if sessions and not has_session:
        merged["wasGeneratedBy"] = [*activities, *sessions]
    return merged


def _nwb_errors(asset: Asset, extract: BlobExtract) -> list[Any]:
    """The errors the blob's extraction implies for an NWB asset, after merging its facts."""
    if extract.status is ExtractStatus.FAILED:
        message = f"{asset.path} is not a readable NWB file: {extract.error}"
        return [{"field": "", "message": message}]
    merged = merge_extracted(asset.metadata_, extract.metadata_)
    if merged != asset.metadata_:
        asset.metadata_ = merged
    return []


@handler(VALIDATE_ASSET)
async def validate_asset(ctx: Context, payload: AssetRef) -> str:
    """Validate an asset's metadata as if published. Asked for once its blob is ready (its
    checksum and extraction known: readiness.py) or, for a zarr, once it has a snapshot;
    until then it stays Pending, as on DANDI ("asset is currently being validated")."""
    settings: Settings = ingest_resources(ctx).settings
    async with job_session(ctx) as session:
        query = select(Asset).where(Asset.id == payload.asset_id).with_for_update()
        asset = await session.scalar(query)
        if asset is None:
            return "gone"
        if asset.status is not AssetStatus.PENDING:
            return "not pending"
        if asset.zarr_id is not None:
            return await _validate_zarr_asset(session, settings, asset)
        blob = await session.get(AssetBlob, asset.blob_id) if asset.blob_id else None
        extract = await session.get(BlobExtract, blob.id) if blob is not None else None
        if blob is None or blob.ready_at is None or extract is None:
            # Only a stray request (an old payload, a resend): the blob's becoming ready asks.
            return "blob not ready"
        errors = _nwb_errors(asset, extract) if is_nwb(asset) else []
        errors = errors or asset_errors(settings, asset_full_metadata(settings, asset, blob))
        await _record(session, asset, errors)
    return asset.status.value


async def _validate_zarr_asset(session: AsyncSession, settings: Settings, asset: Asset) -> str:
    """A zarr asset validates once an ingest gave it a snapshot (its digest and size); the
    ingest that does asks again. No NWB extraction: a zarr is no NWB file."""
    snapshot_id = asset.zarr_snapshot_id
    snapshot = await session.get(ZarrSnapshot, snapshot_id) if snapshot_id else None
    if snapshot is None:
        return "waiting for zarr ingest"
    # A zarr never leaves its dandiset: its access is that dandiset's.
    status = await session.scalar(
        select(Dandiset.embargo_status)
        .join(ZarrArchive, ZarrArchive.dandiset_id == Dandiset.id)
        .where(ZarrArchive.id == asset.zarr_id)
    )
    embargoed = status is not None and status is not EmbargoStatus.OPEN
    document = zarr_asset_full_metadata(settings, asset, snapshot, embargoed=embargoed)
    await _record(session, asset, asset_errors(settings, document))
    return asset.status.value


async def _record(session: AsyncSession, asset: Asset, errors: list[Any]) -> None:
    asset.status = AssetStatus.INVALID if errors else AssetStatus.VALID
    asset.validation_errors = errors
    emit(session, OutboxEntity.ASSET, asset.id)  # its status and merged facts are searchable
    await summarize_drafts_of(session, asset.id)
