"""Asset edits in a draft: create, replace and remove, each keeping the draft's asset list,
folder tree and counters in step, with audit, outbox and validation after commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.assets import paths, repository
from dandelion_api.assets.repository import AssetRow
from dandelion_api.assets.schemas import AssetCreate, AssetOut
from dandelion_api.assets.service.reads import asset_info
from dandelion_api.dandisets.access import ensure_modifiable, owned_dandiset
from dandelion_api.versions.service import get_version
from dandelion_common import asset_paths, audit
from dandelion_common.db.enums import EmbargoStatus, OutboxEntity, OutboxOperation, ZarrStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    Dandiset,
    User,
    Version,
    VersionAsset,
    ZarrArchive,
    ZarrSnapshot,
)
from dandelion_common.drafts import assets_changed
from dandelion_common.errors import BadRequest, FieldErrors, MethodNotAllowed, NotFound
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import (
    VALIDATE_ASSET,
    VALIDATE_ZARR_ASSET,
    AssetRef,
    ZarrAssetRef,
)
from dandelion_common.metadata import strip_asset_computed
from dandelion_common.outbox import emit
from dandelion_common.settings import Settings


async def _editable_draft(
    session: AsyncSession, user: User, dandiset_id: int, version: str
) -> tuple[Dandiset, Version]:
    dandiset = await owned_dandiset(session, dandiset_id, user)
    if version != "draft":
        raise MethodNotAllowed("Only draft versions can be modified.")
    ensure_modifiable(dandiset)
    return dandiset, await get_version(session, dandiset_id=dandiset_id, version="draft")


@dataclass(frozen=True)
class _Content:
    """What a new asset points at: a blob, or a zarr archive and its current snapshot."""

    blob: AssetBlob | None = None
    archive: ZarrArchive | None = None
    snapshot: ZarrSnapshot | None = None

    @property
    def size(self) -> int:
        if self.blob is not None:
            return self.blob.size
        return self.snapshot.size if self.snapshot is not None else 0

    def new_asset(self, path: str, metadata: dict[str, Any]) -> Asset:
        if self.archive is not None:
            return Asset(
                id=uuid.uuid4(),
                path=path,
                zarr_id=self.archive.id,
                zarr_snapshot_id=self.snapshot.id if self.snapshot is not None else None,
                metadata_=metadata,
            )
        assert self.blob is not None
        return Asset(id=uuid.uuid4(), path=path, blob_id=self.blob.id, metadata_=metadata)

    def same_as(self, asset: Asset) -> bool:
        if self.archive is not None:
            return asset.zarr_id == self.archive.id
        return self.blob is not None and asset.blob_id == self.blob.id

    def row(self, asset: Asset, dandiset: Dandiset) -> AssetRow:
        embargoed = dandiset.embargo_status is not EmbargoStatus.OPEN
        return AssetRow(asset, self.blob, self.snapshot, self.archive is not None and embargoed)


async def _parse(
    session: AsyncSession, body: AssetCreate, draft: Version
) -> tuple[str, _Content, dict[str, Any]]:
    if (body.blob_id is None) == (body.zarr_id is None):
        raise FieldErrors({"blob_id": ["Exactly one of blob_id or zarr_id must be specified."]})
    path = body.metadata.get("path")
    if not isinstance(path, str) or not path:
        raise FieldErrors({"metadata": ["No path specified in metadata."]})
    paths.validate_path(path)
    if body.zarr_id is not None:
        content = await _zarr_content(session, body.zarr_id, draft)
    else:
        assert body.blob_id is not None
        content = _Content(blob=await _blob(session, body.blob_id, draft))
    return path, content, strip_asset_computed(body.metadata)


async def _blob(session: AsyncSession, blob_id: uuid.UUID, draft: Version) -> AssetBlob:
    # FOR SHARE until commit: a checksum or extract job finishing meanwhile (it locks the blob
    # FOR UPDATE) then sees this asset and asks for its validation, so none is left Pending.
    # Read afresh: a replaced asset's row may have loaded the blob before the lock.
    blob = await session.get(
        AssetBlob, blob_id, with_for_update={"read": True}, populate_existing=True
    )
    if blob is None or not await _may_join(session, blob, draft):
        raise NotFound("No AssetBlob matches the given query.")
    return blob


async def _zarr_content(session: AsyncSession, zarr_id: uuid.UUID, draft: Version) -> _Content:
    # FOR SHARE until commit, as for blobs: an ingest completing meanwhile (it locks the
    # archive FOR UPDATE) waits, then finds this asset among the draft's and points it at its
    # new snapshot; an ingest committed before is seen here. A snapshot id is no archive: 404.
    archive = await session.get(ZarrArchive, zarr_id, with_for_update={"read": True})
    if archive is None:
        raise NotFound("No ZarrArchive matches the given query.")
    if archive.dandiset_id != draft.dandiset_id:
        raise BadRequest("The zarr archive belongs to a different dandiset")
    snapshot = None
    if archive.snapshot_id is not None:
        snapshot = await session.get(ZarrSnapshot, archive.snapshot_id)
    return _Content(archive=archive, snapshot=snapshot)


async def _may_join(session: AsyncSession, blob: AssetBlob, draft: Version) -> bool:
    """An embargoed blob joins only a dandiset that holds it already, or, fresh from an upload
    and in no version yet, the embargoed dandiset it was uploaded to; elsewhere its bytes
    would reach readers the embargo keeps out (DANDI ties an embargoed blob to its dandiset).
    Open blobs join any."""
    if not blob.embargoed:
        return True
    if blob.dandiset_id is not None and blob.dandiset_id != draft.dandiset_id:
        return False
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
    session: AsyncSession, draft: Version, asset: Asset, size: int, *, delta_files: int
) -> None:
    # The tree first, here and in _detach: it locks the draft's row before this request
    # holds any other row of the draft (dandelion_common.asset_paths says why).
    await asset_paths.add(session, draft.id, asset.path, asset.id, size)
    session.add(VersionAsset(version_id=draft.id, asset_id=asset.id, path=asset.path))
    await assets_changed(session, draft.id, files=delta_files, size=size)


async def _detach(
    session: AsyncSession, draft: Version, asset: Asset, size: int, *, delta_files: int
) -> None:
    await asset_paths.remove(session, draft.id, asset.path, size)
    await session.execute(
        delete(VersionAsset).where(
            VersionAsset.version_id == draft.id, VersionAsset.asset_id == asset.id
        )
    )
    await assets_changed(session, draft.id, files=delta_files, size=-size)


def _request_validation(session: AsyncSession, asset: Asset, content: _Content) -> None:
    """After commit, the ingest worker validates the new asset row if its blob is ready (else
    the blob's becoming ready asks: dandelion_ingest.readiness); a zarr asset once its
    archive's ingest is complete (an ingest to come asks for it itself)."""
    if content.blob is not None:
        if content.blob.ready_at is not None:  # read under the blob's FOR SHARE lock
            enqueue_after_commit(session, VALIDATE_ASSET, AssetRef(asset_id=asset.id))
        return
    archive = content.archive
    if archive is not None and archive.status is ZarrStatus.COMPLETE and content.snapshot:
        payload = ZarrAssetRef(asset_id=asset.id, snapshot_id=content.snapshot.id)
        enqueue_after_commit(session, VALIDATE_ZARR_ASSET, payload)


def _audit_details(asset: Asset, content: _Content) -> dict[str, Any]:
    blob, archive, snapshot = content.blob, content.archive, content.snapshot
    return {
        "path": asset.path,
        "size": content.size,
        "asset_blob_id": str(blob.id) if blob else None,
        "zarr_archive_id": str(archive.id) if archive else None,
        "asset_id": str(asset.id),
        "checksum": blob.sha256 if blob else (snapshot.checksum if snapshot else None),
        "metadata": asset.metadata_,
    }


async def create(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    dandiset_id: int,
    version: str,
    body: AssetCreate,
) -> AssetOut:
    dandiset, draft = await _editable_draft(session, user, dandiset_id, version)
    path, content, metadata = await _parse(session, body, draft)
    await paths.check_free(session, draft.id, path)
    asset = await _add(session, draft, content, path, {**metadata, "path": path})
    audit.record(session, user, dandiset_id, "add_asset", _audit_details(asset, content))
    emit(session, OutboxEntity.ASSET, asset.id)
    return await _created(session, settings, asset, content, dandiset)


async def _add(
    session: AsyncSession, draft: Version, content: _Content, path: str, metadata: dict[str, Any]
) -> Asset:
    asset = content.new_asset(path, metadata)
    session.add(asset)
    await session.flush()
    await _attach(session, draft, asset, content.size, delta_files=1)
    _request_validation(session, asset, content)
    return asset


async def _created(
    session: AsyncSession, settings: Settings, asset: Asset, content: _Content, dandiset: Dandiset
) -> AssetOut:
    await session.flush()
    await session.refresh(asset)
    row = content.row(asset, dandiset)
    return asset_info(settings, row, published=False)


async def replace(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    dandiset_id: int,
    version: str,
    asset_id: uuid.UUID,
    body: AssetCreate,
) -> AssetOut:
    dandiset, draft = await _editable_draft(session, user, dandiset_id, version)
    old = await repository.in_version(session, draft.id, asset_id)
    if old is None:
        raise NotFound("No Asset matches the given query.")
    path, content, metadata = await _parse(session, body, draft)
    metadata = {**metadata, "path": path}
    if (path, metadata) == (old.asset.path, old.asset.metadata_) and content.same_as(old.asset):
        return asset_info(settings, old, published=False)
    await _detach(session, draft, old.asset, old.size, delta_files=-1)
    await paths.check_free(session, draft.id, path)
    asset = await _add(session, draft, content, path, metadata)
    audit.record(session, user, dandiset_id, "update_asset", _audit_details(asset, content))
    emit(session, OutboxEntity.ASSET, old.asset.id, OutboxOperation.DELETE)
    emit(session, OutboxEntity.ASSET, asset.id)
    return await _created(session, settings, asset, content, dandiset)


async def remove(
    session: AsyncSession, *, user: User, dandiset_id: int, version: str, asset_id: uuid.UUID
) -> None:
    _, draft = await _editable_draft(session, user, dandiset_id, version)
    row = await repository.in_version(session, draft.id, asset_id)
    if row is None:
        raise NotFound("No Asset matches the given query.")
    await _detach(session, draft, row.asset, row.size, delta_files=-1)
    audit.record(
        session,
        user,
        dandiset_id,
        "remove_asset",
        {"path": row.asset.path, "asset_id": str(row.asset.id)},
    )
    emit(session, OutboxEntity.ASSET, row.asset.id, OutboxOperation.DELETE)
