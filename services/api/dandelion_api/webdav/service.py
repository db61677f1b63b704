"""Resolve a path in a version as DANDI's `atpath` does, from the folder tree alone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.assets.service.reads import zarr_field
from dandelion_api.dandisets.access import EMBARGOED, readable_dandiset
from dandelion_api.versions.service import get_version
from dandelion_api.webdav import repository
from dandelion_api.webdav.schemas import AssetResource, AtPathQuery, FolderResource, PathResult
from dandelion_common.db.models import Dandiset, User, Version
from dandelion_common.errors import NotAuthenticated, NotFound, PermissionDenied
from dandelion_common.metadata import any_asset_full_metadata
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage


async def at_path(
    session: AsyncSession,
    settings: Settings,
    storage: S3Storage,
    *,
    user: User | None,
    query: AtPathQuery,
    offset: int,
    limit: int,
) -> tuple[list[PathResult], int]:
    """A page of the listing and its length: the node at `path`, then a folder's children.

    The root itself is never listed (DANDI has no row for it): without `children` its listing
    is empty, with `children` it is the top-level files and folders.
    """
    version, dandiset = await _readable_version(session, query, user)
    shown = _Shown(
        settings, query.metadata, version.version != "draft", dandiset.embargo_status in EMBARGOED
    )
    path = query.path.rstrip("/")
    if not path:
        if not query.children:
            return [], 0
        nodes = await repository.children(session, version.id, "", offset=offset, limit=limit)
        count = await repository.child_count(session, version.id, "")
        return [_result(shown, n) for n in nodes], count
    found = await _node(session, version.id, path, folder_only=query.path.endswith("/"))
    if found[0].asset_id is not None or not query.children:
        return ([_result(shown, found)] if offset == 0 else []), 1
    # The folder is row 0 of its listing and its children rows 1..n, ordered by path.
    nodes = [found] if offset == 0 else []
    if limit > len(nodes):
        nodes += await repository.children(
            session, version.id, path, offset=max(offset - 1, 0), limit=limit - len(nodes)
        )
    count = 1 + await repository.child_count(session, version.id, path)
    return [_result(shown, n) for n in nodes], count


async def _readable_version(
    session: AsyncSession, query: AtPathQuery, user: User | None
) -> tuple[Version, Dandiset]:
    # As in DANDI, an unknown dandiset or version is a 404 before any permission check.
    version = await get_version(session, dandiset_id=query.dandiset_id, version=query.version_id)
    try:
        dandiset = await readable_dandiset(session, query.dandiset_id, user)
    except NotAuthenticated as exc:
        # DANDI refuses inside the view, which DRF renders as 403 even for the anonymous.
        raise PermissionDenied() from exc
    return version, dandiset


@dataclass(frozen=True)
class _Shown:
    """How this listing shows assets: with metadata or not, as a published version does (a
    zarr asset's `zarr` is then its snapshot), in a dandiset under embargo or not."""

    settings: Settings
    with_metadata: bool
    published: bool
    embargoed: bool


async def _node(
    session: AsyncSession, version_id: int, path: str, *, folder_only: bool
) -> repository.Node:
    found = await repository.node(session, version_id, path)
    if found is None:
        raise NotFound(f"Folder or asset not found at {path}")
    if folder_only and found[0].asset_id is not None:
        raise NotFound(f"Folder not found at {path}")
    return found


def _result(shown: _Shown, node: repository.Node) -> PathResult:
    path, asset, blob, snapshot = node
    if asset is None:
        return PathResult(
            type="folder",
            resource=FolderResource(
                path=path.path, total_assets=path.aggregate_files, total_size=path.aggregate_size
            ),
        )
    # A file's node aggregates exactly its own bytes (a zarr's: its snapshot's).
    metadata = None
    if shown.with_metadata:
        metadata = any_asset_full_metadata(
            shown.settings, asset, blob, snapshot, zarr_embargoed=shown.embargoed
        )
    resource = AssetResource(
        asset_id=asset.id,
        path=asset.path,
        created=asset.created,
        modified=asset.modified,
        zarr=zarr_field(asset, published=shown.published),
        blob=asset.blob_id,
        size=path.aggregate_size,
        metadata=metadata,
    )
    return PathResult(type="asset", resource=resource)
