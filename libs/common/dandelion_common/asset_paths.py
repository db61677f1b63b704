"""The one writer of a draft's folder tree (`asset_paths`), shared by the API's asset writes
and the zarr ingest (a new snapshot resizes a zarr asset, or hands its path to a new row).

The tree
- One node per file and per folder of a version: `path`, its folder's path as `parent` ("" at
  the top) and, on a file's node (a leaf), the asset's id. A folder has no row of its own
  elsewhere: it exists while some file lies under it.
- Each node aggregates what lies at or under it: `aggregate_files` and `aggregate_size` (a
  leaf: 1 and its asset's size). A folder listing reads the folder's children and nothing
  else, never the version's assets.
- A change touches only the file's own nodes, its leaf and every folder above it (`nodes`):
  an add upserts them (+1 file, +size each), a remove deletes those holding only that file and
  takes one file and its size off the others, a resize moves all of them by the size change.

Locks and order
- Every write first locks the draft's version row (FOR NO KEY UPDATE: the lock the counters'
  UPDATE in `drafts.assets_changed` takes anyway, which leaves inserts referring to the row
  free), then its nodes. So the writers of one draft's tree take turns, and none can hold a
  node the other waits for: the zarr ingest locks the draft (FOR UPDATE, to check it is not
  Publishing) before it resizes, and an API write locking nodes first could deadlock with it.
- Counters change by relative UPDATEs (`+ 1`, `- size`), never by a value read before.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import AssetPath, Version


def nodes(path: str) -> list[tuple[str, str]]:
    """(node, parent) for every folder above `path`, top first, and for `path` itself."""
    parts = path.split("/")
    return [("/".join(parts[: i + 1]), "/".join(parts[:i])) for i in range(len(parts))]


async def add(
    session: AsyncSession, version_id: int, path: str, asset_id: uuid.UUID, size: int
) -> None:
    """A file at `path` (the caller has checked that it is free): its leaf, and one more
    file and `size` more bytes in each folder above it (created when new)."""
    await _lock(session, version_id)
    rows = [
        {
            "version_id": version_id,
            "path": node,
            "parent": parent,
            "asset_id": asset_id if node == path else None,
            "aggregate_files": 1,
            "aggregate_size": size,
        }
        for node, parent in nodes(path)
    ]
    statement = insert(AssetPath).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[AssetPath.version_id, AssetPath.path],
        set_={
            "aggregate_files": AssetPath.aggregate_files + statement.excluded.aggregate_files,
            "aggregate_size": AssetPath.aggregate_size + statement.excluded.aggregate_size,
        },
    )
    await session.execute(statement)


async def remove(session: AsyncSession, version_id: int, path: str, size: int) -> None:
    """The file at `path`, of `size` bytes, is gone: so are the folders it was alone in."""
    await _lock(session, version_id)
    mine = _nodes_of(version_id, path)
    await session.execute(delete(AssetPath).where(mine, AssetPath.aggregate_files == 1))
    await session.execute(
        update(AssetPath)
        .where(mine)
        .values(
            aggregate_files=AssetPath.aggregate_files - 1,
            aggregate_size=AssetPath.aggregate_size - size,
        )
    )


async def resize(session: AsyncSession, version_id: int, path: str, delta: int) -> None:
    """The file at `path` grew by `delta` bytes (a zarr asset's new snapshot), as did every
    folder above it."""
    if not delta:
        return
    await _lock(session, version_id)
    await session.execute(
        update(AssetPath)
        .where(_nodes_of(version_id, path))
        .values(aggregate_size=AssetPath.aggregate_size + delta)
    )


async def repoint(session: AsyncSession, version_id: int, path: str, asset_id: uuid.UUID) -> None:
    """The leaf at `path` names `asset_id` from now on (a new row replacing a published one)."""
    await _lock(session, version_id)
    await session.execute(
        update(AssetPath)
        .where(AssetPath.version_id == version_id, AssetPath.path == path)
        .values(asset_id=asset_id)
    )


def _nodes_of(version_id: int, path: str) -> ColumnElement[bool]:
    paths = [node for node, _ in nodes(path)]
    return and_(AssetPath.version_id == version_id, AssetPath.path.in_(paths))


async def _lock(session: AsyncSession, version_id: int) -> None:
    # A no-op for the zarr ingest, which holds the row already; see the module docstring.
    lock = select(Version.id).where(Version.id == version_id).with_for_update(key_share=True)
    await session.execute(lock)
