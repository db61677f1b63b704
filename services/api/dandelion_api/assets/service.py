"""Asset use cases: list, read, add/replace/remove in the draft, folders, downloads."""

from __future__ import annotations

import posixpath
import uuid
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api import audit
from dandelion_api.assets import paths, repository
from dandelion_api.assets.schemas import AssetCreate, AssetOut, AssetValidation, PathAsset, PathNode
from dandelion_api.dandisets.access import owned_dandiset, readable_dandiset
from dandelion_api.versions.service import get_version
from dandelion_api.versions.validation import request_validation
from dandelion_common.db.enums import EmbargoStatus, OutboxEntity, OutboxOperation, VersionStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    BlobExtract,
    Dandiset,
    User,
    Version,
    VersionAsset,
)
from dandelion_common.errors import (
    BadRequest,
    FieldErrors,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import (
    SUMMARIZE_VERSION,
    VALIDATE_ASSET,
    AssetChecksum,
    VersionRef,
)
from dandelion_common.metadata import asset_full_metadata, strip_asset_computed
from dandelion_common.outbox import emit
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key


def asset_out(
    asset: Asset, blob: AssetBlob | None, metadata: dict[str, Any] | None = None
) -> AssetOut:
    return AssetOut(
        asset_id=asset.id,
        blob=asset.blob_id,
        path=asset.path,
        size=blob.size if blob else 0,
        created=asset.created,
        modified=asset.modified,
        metadata=metadata,
    )


async def _readable_version(
    session: AsyncSession, dandiset_id: int, version: str, user: User | None
) -> Version:
    await readable_dandiset(session, dandiset_id, user)
    return await get_version(session, dandiset_id, version)


async def list_assets(
    session: AsyncSession,
    settings: Settings,
    dandiset_id: int,
    version: str,
    user: User | None,
    *,
    path: str | None,
    glob: str | None,
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
        order=order,
        offset=offset,
        limit=limit,
        with_count=first_page,
    )
    items = [
        asset_out(a, b, asset_full_metadata(settings, a, b) if with_metadata and b else None)
        for a, b in rows[:limit]
    ]
    return items, count, len(rows) > limit


async def _asset_in_version(
    session: AsyncSession, dandiset_id: int, version: str, asset_id: uuid.UUID, user: User | None
) -> tuple[Version, Asset, AssetBlob | None]:
    found = await _readable_version(session, dandiset_id, version, user)
    row = await repository.in_version(session, found.id, asset_id)
    if row is None:
        raise NotFound("No Asset matches the given query.")
    return found, row[0], row[1]


async def nested_metadata(
    session: AsyncSession,
    settings: Settings,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    user: User | None,
) -> dict[str, Any]:
    _, asset, blob = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    return asset_full_metadata(settings, asset, _require_blob(blob))


async def nested_info(
    session: AsyncSession,
    settings: Settings,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    user: User | None,
) -> AssetOut:
    _, asset, blob = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    return _info(settings, asset, _require_blob(blob))


def _info(settings: Settings, asset: Asset, blob: AssetBlob) -> AssetOut:
    return asset_out(asset, blob, asset_full_metadata(settings, asset, blob))


async def validation(
    session: AsyncSession, dandiset_id: int, version: str, asset_id: uuid.UUID, user: User | None
) -> AssetValidation:
    _, asset, _ = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    errors = [
        {"field": e.get("field", ""), "message": e.get("message", "")}
        for e in asset.validation_errors
    ]
    extract = await session.get(BlobExtract, asset.blob_id) if asset.blob_id else None
    findings = extract.findings if extract is not None else None
    return AssetValidation.model_validate(
        {"status": asset.status, "validation_errors": errors, "advisory_findings": findings}
    )


def _require_blob(blob: AssetBlob | None) -> AssetBlob:
    if blob is None:
        raise BadRequest("Zarr archives are not supported by this server.")
    return blob


async def readable_asset(
    session: AsyncSession, asset_id: uuid.UUID, user: User | None
) -> tuple[Asset, AssetBlob]:
    """A top-level asset read: an embargoed blob, or an asset of a dandiset that is not OPEN,
    only for admins and owners of a dandiset holding it.

    The blob's flag alone is not enough: a blob may be open while the asset's own dandiset is
    not (an unembargo that has moved it but not yet opened the dandiset; a blob shared by
    upload dedup with an open dandiset), and the asset's path and metadata are its dandiset's.
    """
    row = await repository.by_id(session, asset_id)
    if row is None:
        raise NotFound("No Asset matches the given query.")
    asset, blob = row[0], _require_blob(row[1])
    restricted = blob.embargoed or await repository.in_embargoed_dandiset(session, asset.id)
    if restricted and not (
        user
        and (user.is_admin or await repository.owns_a_dandiset_holding(session, asset.id, user.id))
    ):
        if user is None:
            raise NotAuthenticated()
        raise PermissionDenied()
    return asset, blob


async def top_level_metadata(
    session: AsyncSession, settings: Settings, asset_id: uuid.UUID, user: User | None
) -> dict[str, Any]:
    asset, blob = await readable_asset(session, asset_id, user)
    return asset_full_metadata(settings, asset, blob)


async def top_level_info(
    session: AsyncSession, settings: Settings, asset_id: uuid.UUID, user: User | None
) -> AssetOut:
    asset, blob = await readable_asset(session, asset_id, user)
    return _info(settings, asset, blob)


async def download_url(
    session: AsyncSession, storage: S3Storage, asset_id: uuid.UUID, user: User | None
) -> str:
    asset, blob = await readable_asset(session, asset_id, user)
    return await _presign(storage, asset, blob)


async def nested_download_url(
    session: AsyncSession,
    storage: S3Storage,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    user: User | None,
) -> str:
    _, asset, blob = await _asset_in_version(session, dandiset_id, version, asset_id, user)
    return await _presign(storage, asset, _require_blob(blob))


async def _presign(storage: S3Storage, asset: Asset, blob: AssetBlob) -> str:
    key = blob_key(blob.id, embargoed=blob.embargoed)
    return await storage.presign_get(key, filename=posixpath.basename(asset.path))


# -- changes to the draft ----------------------------------------------------------------


async def _editable_draft(
    session: AsyncSession, user: User, dandiset_id: int, version: str
) -> Version:
    dandiset = await owned_dandiset(session, dandiset_id, user)
    if version != "draft":
        raise MethodNotAllowed("Only draft versions can be modified.")
    if dandiset.embargo_status is EmbargoStatus.UNEMBARGOING:
        raise BadRequest("Dandiset modification not allowed during unembargo")
    return await get_version(session, dandiset_id, "draft")


async def _parse(
    session: AsyncSession, body: AssetCreate, draft: Version
) -> tuple[str, AssetBlob, dict[str, Any]]:
    if (body.blob_id is None) == (body.zarr_id is None):
        raise FieldErrors({"blob_id": ["Exactly one of blob_id or zarr_id must be specified."]})
    if body.zarr_id is not None:
        raise BadRequest("Zarr archives are not supported by this server.")
    path = body.metadata.get("path")
    if not isinstance(path, str) or not path:
        raise FieldErrors({"metadata": ["No path specified in metadata."]})
    paths.validate_path(path)
    # FOR SHARE until commit: a checksum or extract job finishing meanwhile (it locks the blob
    # FOR UPDATE) then sees this asset and asks for its validation, so none is left Pending.
    blob = await session.get(AssetBlob, body.blob_id, with_for_update={"read": True})
    if blob is None or not await _may_join(session, blob, draft):
        raise NotFound("No AssetBlob matches the given query.")
    return path, blob, strip_asset_computed(body.metadata)


async def _may_join(session: AsyncSession, blob: AssetBlob, draft: Version) -> bool:
    """An embargoed blob joins only a dandiset that holds it already, or, fresh from an upload
    and in no version yet, an embargoed dandiset; elsewhere its bytes would reach readers the
    embargo keeps out (DANDI ties an embargoed blob to its dandiset). Open blobs join any."""
    if not blob.embargoed:
        return True
    holders = (
        select(Version.dandiset_id)
        .join(VersionAsset, VersionAsset.version_id == Version.id)
        .join(Asset, Asset.id == VersionAsset.asset_id)
        .where(Asset.blob_id == blob.id)
        .distinct()
    )
    dandisets = set(await session.scalars(holders))
    if dandisets:
        return draft.dandiset_id in dandisets
    target = await session.get(Dandiset, draft.dandiset_id)
    return target is not None and target.embargo_status is EmbargoStatus.EMBARGOED


async def _attach(
    session: AsyncSession, draft: Version, asset: Asset, blob: AssetBlob, *, delta_files: int
) -> None:
    session.add(VersionAsset(version_id=draft.id, asset_id=asset.id, path=asset.path))
    await paths.add(session, draft.id, asset.path, asset.id, blob.size)
    await _touch(session, draft, files=delta_files, size=blob.size)


async def _detach(
    session: AsyncSession, draft: Version, asset: Asset, blob: AssetBlob, *, delta_files: int
) -> None:
    await session.execute(
        delete(VersionAsset).where(
            VersionAsset.version_id == draft.id, VersionAsset.asset_id == asset.id
        )
    )
    await paths.remove(session, draft.id, asset.path, blob.size)
    await _touch(session, draft, files=delta_files, size=-blob.size)


async def _touch(session: AsyncSession, draft: Version, *, files: int, size: int) -> None:
    """Counters change in one UPDATE, so concurrent asset changes never lose an increment."""
    modified = await session.scalar(
        update(Version)
        .where(Version.id == draft.id)
        .values(
            asset_count=Version.asset_count + files,
            size=Version.size + size,
            assets_revision=Version.assets_revision + 1,
            status=VersionStatus.PENDING,
            modified=func.now(),
        )
        .returning(Version.modified)
    )
    emit(session, OutboxEntity.VERSION, draft.id)
    if modified is not None:
        request_validation(session, draft.id, modified)
        enqueue_after_commit(session, SUMMARIZE_VERSION, VersionRef(version_id=draft.id))


def _request_validation(session: AsyncSession, asset: Asset, blob: AssetBlob) -> None:
    """After commit, the ingest worker validates the new asset row."""
    payload = AssetChecksum(asset_id=asset.id, sha256=blob.sha256)
    enqueue_after_commit(session, VALIDATE_ASSET, payload)


def _audit_details(asset: Asset, blob: AssetBlob) -> dict[str, Any]:
    return {
        "path": asset.path,
        "size": blob.size,
        "asset_blob_id": str(blob.id),
        "zarr_archive_id": None,
        "asset_id": str(asset.id),
        "checksum": blob.sha256,
        "metadata": asset.metadata_,
    }


async def create(
    session: AsyncSession,
    settings: Settings,
    user: User,
    dandiset_id: int,
    version: str,
    body: AssetCreate,
) -> AssetOut:
    draft = await _editable_draft(session, user, dandiset_id, version)
    path, blob, metadata = await _parse(session, body, draft)
    await paths.check_free(session, draft.id, path)
    asset = Asset(id=uuid.uuid4(), path=path, blob_id=blob.id, metadata_={**metadata, "path": path})
    session.add(asset)
    await session.flush()
    await _attach(session, draft, asset, blob, delta_files=1)
    audit.record(session, user, dandiset_id, "add_asset", _audit_details(asset, blob))
    _request_validation(session, asset, blob)
    emit(session, OutboxEntity.ASSET, asset.id)
    await session.flush()
    await session.refresh(asset)
    return asset_out(asset, blob, asset_full_metadata(settings, asset, blob))


async def replace(
    session: AsyncSession,
    settings: Settings,
    user: User,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    body: AssetCreate,
) -> AssetOut:
    draft = await _editable_draft(session, user, dandiset_id, version)
    row = await repository.in_version(session, draft.id, asset_id)
    if row is None:
        raise NotFound("No Asset matches the given query.")
    old, old_blob = row[0], _require_blob(row[1])
    path, blob, metadata = await _parse(session, body, draft)
    metadata = {**metadata, "path": path}
    if (path, blob.id, metadata) == (old.path, old.blob_id, old.metadata_):
        return asset_out(old, old_blob, asset_full_metadata(settings, old, old_blob))
    await _detach(session, draft, old, old_blob, delta_files=-1)
    await paths.check_free(session, draft.id, path)
    asset = Asset(id=uuid.uuid4(), path=path, blob_id=blob.id, metadata_=metadata)
    session.add(asset)
    await session.flush()
    await _attach(session, draft, asset, blob, delta_files=1)
    audit.record(session, user, dandiset_id, "update_asset", _audit_details(asset, blob))
    _request_validation(session, asset, blob)
    emit(session, OutboxEntity.ASSET, old.id, OutboxOperation.DELETE)
    emit(session, OutboxEntity.ASSET, asset.id)
    await session.flush()
    await session.refresh(asset)
    return asset_out(asset, blob, asset_full_metadata(settings, asset, blob))


async def remove(
    session: AsyncSession, user: User, dandiset_id: int, version: str, asset_id: uuid.UUID
) -> None:
    draft = await _editable_draft(session, user, dandiset_id, version)
    row = await repository.in_version(session, draft.id, asset_id)
    if row is None:
        raise NotFound("No Asset matches the given query.")
    asset, blob = row[0], _require_blob(row[1])
    await _detach(session, draft, asset, blob, delta_files=-1)
    audit.record(
        session, user, dandiset_id, "remove_asset", {"path": asset.path, "asset_id": str(asset.id)}
    )
    emit(session, OutboxEntity.ASSET, asset.id, OutboxOperation.DELETE)


async def folder(
    session: AsyncSession,
    storage: S3Storage,
    dandiset_id: int,
    version: str,
    user: User | None,
    prefix: str,
    *,
    offset: int,
    limit: int,
) -> tuple[list[PathNode], int]:
    found = await _readable_version(session, dandiset_id, version, user)
    listing = await paths.children(session, found.id, prefix.strip("/"), offset=offset, limit=limit)
    if listing is None:
        raise NotFound("Specified path not found.")
    nodes, count = listing
    keys = await _blob_keys(session, [n.asset_id for n in nodes if n.asset_id])
    items = [
        PathNode(
            path=n.path,
            version=found.id,
            aggregate_files=n.aggregate_files,
            aggregate_size=n.aggregate_size,
            asset=PathAsset(asset_id=n.asset_id, url=storage.object_url(keys[n.asset_id]))
            if n.asset_id
            else None,
        )
        for n in nodes
    ]
    return items, count


async def _blob_keys(session: AsyncSession, asset_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The S3 key of each asset's blob (embargoed blobs live under their own prefix)."""
    if not asset_ids:
        return {}
    query = (
        select(Asset.id, AssetBlob.id, AssetBlob.embargoed)
        .join(AssetBlob, AssetBlob.id == Asset.blob_id)
        .where(Asset.id.in_(asset_ids))
    )
    return {row[0]: blob_key(row[1], embargoed=row[2]) for row in await session.execute(query)}
