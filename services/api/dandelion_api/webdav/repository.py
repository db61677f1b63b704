"""Nodes of a version's folder tree (`asset_paths`), each with its asset and its blob or zarr
snapshot if a file."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import Asset, AssetBlob, AssetPath, ZarrSnapshot

Node = tuple[AssetPath, Asset | None, AssetBlob | None, ZarrSnapshot | None]


def _nodes(version_id: int) -> Select[AssetPath, Asset, AssetBlob, ZarrSnapshot]:
    return (
        select(AssetPath, Asset, AssetBlob, ZarrSnapshot)
        .outerjoin(Asset, Asset.id == AssetPath.asset_id)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .outerjoin(ZarrSnapshot, ZarrSnapshot.id == Asset.zarr_snapshot_id)
        .where(AssetPath.version_id == version_id)
    )


async def node(session: AsyncSession, version_id: int, path: str) -> Node | None:
    row = (await session.execute(_nodes(version_id).where(AssetPath.path == path))).first()
    return (row[0], row[1], row[2], row[3]) if row else None


async def children(
    session: AsyncSession, version_id: int, parent: str, *, offset: int, limit: int
) -> list[Node]:
    """Direct children of folder `parent` ("" = root) in byte order of their paths."""
    # DANDI sorts with the C collation whatever the database's default is, so `B.nwb` comes
    # before `a.nwb`. Sorting one folder's children needs no index.
    query = (
        _nodes(version_id)
        .where(AssetPath.parent == parent)
        .order_by(AssetPath.path.collate("C"))
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], row[1], row[2], row[3]) for row in await session.execute(query)]


async def child_count(session: AsyncSession, version_id: int, parent: str) -> int:
    query = select(func.count()).where(
        AssetPath.version_id == version_id, AssetPath.parent == parent
    )
    return int(await session.scalar(query) or 0)
