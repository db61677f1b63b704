"""Asset reads: a version's asset list and folders, an asset's metadata, record and
validation, downloads (saved or shown in the browser), and who may read an asset by id
alone."""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.assets import paths, repository
from dandelion_api.assets.repository import AssetRow
from dandelion_api.assets.schemas import AssetOut, AssetValidation, PathAsset, PathNode
from dandelion_api.dandisets.access import readable_dandiset
from dandelion_api.versions.service import get_version
from dandelion_common.db.models import Asset, AssetBlob, BlobExtract, User, Version
from dandelion_common.errors import (
    BadRequest,
    FieldErrors,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from dandelion_common.metadata import any_asset_full_metadata
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key, zarr_key


def zarr_field(asset: Asset, *, published: bool) -> uuid.UUID | None:
    """The `zarr` id clients list and download by: in a published version the asset's
    snapshot (the files it was published with), elsewhere the live archive they upload to."""
    if asset.zarr_id is None:
        return None
    return (asset.zarr_snapshot_id or asset.zarr_id) if published else asset.zarr_id


def asset_out(
    row: AssetRow, *, published: bool = False, metadata: dict[str, Any] | None = None
) -> AssetOut:
    asset = row.asset
    return AssetOut(
        asset_id=asset.id,
        blob=asset.blob_id,
        zarr=zarr_field(asset, published=published),
        path=asset.path,
        size=row.size,
        created=asset.created,
        modified=asset.modified,
        metadata=metadata,
    )


def document(settings: Settings, row: AssetRow) -> dict[str, Any]:
    """The asset's full metadata, blob or zarr."""
    return any_asset_full_metadata(
        settings, row.asset, row.blob, row.snapshot, zarr_embargoed=row.zarr_embargoed
    )


def asset_info(settings: Settings, row: AssetRow, *, published: bool) -> AssetOut:
    """The asset's record with its metadata document."""
    return asset_out(row, published=published, metadata=document(settings, row))


async def _readable_version(
    session: AsyncSession, dandiset_id: int, version: str, user: User | None
) -> Version:
    await readable_dandiset(session, dandiset_id, user)
    return await get_version(session, dandiset_id=dandiset_id, version=version)


async def list_assets(
    session: AsyncSession,
    settings: Settings,
    *,
    dandiset_id: int,
    version: str,
    user: User | None,
    path: str | None,
    glob: str | None,
    zarr: bool = False,
    order: str,
    with_metadata: bool,
    offset: int,
    limit: int,
    first_page: bool,
) -> tuple[list[AssetOut], int | None, bool]:
    found = await _readable_version(session, dandiset_id, version, user)
    rows, count = await repository.page(
        session,
        found,
        path=path,
        glob=glob,
        zarr=zarr,
        order=order,
        offset=offset,
        limit=limit,
        with_count=first_page,
    )
    published = found.version != "draft"
    items = [
        asset_out(
            row,
            published=published,
            metadata=document(settings, row) if with_metadata else None,
        )
        for row in rows[:limit]
    ]
    return items, count, len(rows) > limit


async def _asset_in_version(
    session: AsyncSession, dandiset_id: int, version: str, asset_id: uuid.UUID, user: User | None
) -> tuple[Version, AssetRow]:
    found = await _readable_version(session, dandiset_id, version, user)
    row = await repository.in_version(session, found.id, asset_id)
    if row is None:
        raise NotFound("No Asset matches the given query.")
    return found, row


async def nested_metadata(
    session: AsyncSession,
    settings: Settings,
    *,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    user: User | None,
) -> dict[str, Any]:
    _, row = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    return document(settings, row)


async def nested_info(
    session: AsyncSession,
    settings: Settings,
    *,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    user: User | None,
) -> AssetOut:
    found, row = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    return asset_info(settings, row, published=found.version != "draft")


async def validation(
    session: AsyncSession, *, dandiset_id: int, version: str, asset_id: uuid.UUID, user: User | None
) -> AssetValidation:
    _, row = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    asset = row.asset
    errors = [
        {"field": e.get("field", ""), "message": e.get("message", "")}
        for e in asset.validation_errors
    ]
    extract = await session.get(BlobExtract, asset.blob_id) if asset.blob_id else None
    findings = extract.findings if extract is not None else None
    return AssetValidation.model_validate(
        {"status": asset.status, "validation_errors": errors, "advisory_findings": findings}
    )


async def readable_asset(
    session: AsyncSession, *, asset_id: uuid.UUID, user: User | None
) -> AssetRow:
    """A top-level asset read: an embargoed blob or zarr, or an asset of a dandiset that is
    not OPEN, only for admins and owners of a dandiset holding it (or, for a zarr, owning it).

    The blob's flag alone is not enough: a blob may be open while the asset's own dandiset is
    not (an unembargo that has moved it but not yet opened the dandiset; a blob shared by
    upload dedup with an open dandiset), and the asset's path and metadata are its dandiset's.
    A zarr's embargo is its dandiset's.
    """
    row = await repository.by_id(session, asset_id)
    if row is None:
        raise NotFound("No Asset matches the given query.")
    embargoed = row.blob.embargoed if row.blob is not None else row.zarr_embargoed
    restricted = embargoed or await repository.in_embargoed_dandiset(session, asset_id)
    if restricted and not (user and await _may_read_restricted(session, row.asset, user)):
        if user is None:
            raise NotAuthenticated()
        raise PermissionDenied()
    return row


async def _may_read_restricted(session: AsyncSession, asset: Asset, user: User) -> bool:
    if user.is_admin or await repository.owns_a_dandiset_holding(session, asset.id, user.id):
        return True
    zarr_id = asset.zarr_id
    return zarr_id is not None and await repository.owns_zarr_dandiset(session, zarr_id, user.id)


async def top_level_metadata(
    session: AsyncSession, settings: Settings, *, asset_id: uuid.UUID, user: User | None
) -> dict[str, Any]:
    return document(settings, await readable_asset(session, asset_id=asset_id, user=user))


async def top_level_info(
    session: AsyncSession, settings: Settings, *, asset_id: uuid.UUID, user: User | None
) -> AssetOut:
    row = await readable_asset(session, asset_id=asset_id, user=user)
    # By id alone there is no version: a published row is served as published versions do.
    return asset_info(settings, row, published=row.asset.published)


DISPOSITIONS = ("attachment", "inline")


@dataclass(frozen=True)
class Download:
    """Where an asset's bytes are fetched: a short-lived presigned URL. `player` marks an
    inline video, which DANDI answers with a page playing it rather than a redirect."""

    url: str
    player: bool = False


async def download(
    session: AsyncSession,
    storage: S3Storage,
    *,
    asset_id: uuid.UUID,
    user: User | None,
    disposition: str = "attachment",
) -> Download:
    row = await readable_asset(session, asset_id=asset_id, user=user)
    return await _presign(storage, row, disposition)


async def nested_download(
    session: AsyncSession,
    storage: S3Storage,
    *,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    user: User | None,
    disposition: str = "attachment",
) -> Download:
    _, row = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    return await _presign(storage, row, disposition)


ZARR_DOWNLOAD = (
    "Unable to provide download link for zarr assets."
    " Please browse the zarr files directly to do so."
)


async def _presign(storage: S3Storage, row: AssetRow, disposition: str) -> Download:
    """DANDI's order: the asset is found and readable, is no zarr, then the query is valid.

    `attachment` saves the file under its name; `inline` has the browser show it, typed by
    the asset's `encodingFormat`."""
    if row.blob is None:  # a zarr is many files: clients list them under /api/zarr/{id}/files/
        raise BadRequest(ZARR_DOWNLOAD)
    if disposition not in DISPOSITIONS:
        raise FieldErrors({"content_disposition": [f'"{disposition}" is not a valid choice.']})
    key = blob_key(row.blob.id, embargoed=row.blob.embargoed)
    filename = posixpath.basename(row.asset.path)
    if disposition == "attachment":
        return Download(await storage.presign_get(key, filename=filename))
    content_type = _content_type(row.asset)
    url = await storage.presign_get(
        key, filename=filename, disposition="inline", content_type=content_type
    )
    return Download(url, player=content_type.startswith("video/"))


def _content_type(asset: Asset) -> str:
    encoding = asset.metadata_.get("encodingFormat")
    return encoding if isinstance(encoding, str) and encoding else "application/octet-stream"


async def folder(
    session: AsyncSession,
    storage: S3Storage,
    *,
    dandiset_id: int,
    version: str,
    user: User | None,
    prefix: str,
    offset: int,
    limit: int,
) -> tuple[list[PathNode], int]:
    found = await _readable_version(session, dandiset_id, version, user)
    listing = await paths.children(session, found.id, prefix.strip("/"), offset=offset, limit=limit)
    if listing is None:
        raise NotFound("Specified path not found.")
    nodes, count = listing
    files = await _path_assets(session, storage, [n.asset_id for n in nodes if n.asset_id])
    items = [
        PathNode(
            path=n.path,
            version=found.id,
            aggregate_files=n.aggregate_files,
            aggregate_size=n.aggregate_size,
            asset=files[n.asset_id] if n.asset_id else None,
        )
        for n in nodes
    ]
    return items, count


async def _path_assets(
    session: AsyncSession, storage: S3Storage, asset_ids: list[uuid.UUID]
) -> dict[uuid.UUID, PathAsset]:
    """Each asset's unsigned S3 URL (its blob, embargoed blobs under their own prefix, or its
    zarr's prefix in the zarr bucket) and modification time, in one query."""
    if not asset_ids:
        return {}
    query = (
        select(Asset.id, AssetBlob.id, AssetBlob.embargoed, Asset.zarr_id, Asset.modified)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .where(Asset.id.in_(asset_ids))
    )
    found = {}
    for asset_id, blob_id, embargoed, zarr_id, modified in await session.execute(query):
        if zarr_id is not None:
            url = storage.zarr.object_url(zarr_key(zarr_id))
        else:
            url = storage.object_url(blob_key(blob_id, embargoed=embargoed))
        found[asset_id] = PathAsset(asset_id=asset_id, url=url, modified=modified)
    return found
