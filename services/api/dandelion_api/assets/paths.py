"""Asset path rules, and the reads of a version's folder tree (`asset_paths`): whether a
path is free, a folder's children. The tree's writes are `dandelion_common.asset_paths`.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.asset_paths import nodes
from dandelion_common.db.models import AssetPath
from dandelion_common.errors import BadRequest, Conflict

MAX_PATH_LENGTH = 512
# DANDI's character set (its `A-z` range included); dots may appear inside a segment, one may
# start it (`.bar`), but `..` never appears, so no segment can climb out of the dandiset.
# DANDI's `\s` is narrowed to the space: with Python's Unicode classes it also admitted tabs,
# newlines, the other ASCII control separators (\x1c-\x1f) and Unicode spaces, none of which
# belongs in a file name that clients write to disk.
_CHARS = r"A-z0-9(),& #+~_=\-"
_SEGMENT = re.compile(rf"^\.?[{_CHARS}][{_CHARS}.]*$")


def validate_path(path: str) -> None:
    """400 unless `path` is relative, made of allowed segments and at most 512 characters."""
    if not path or path.startswith("/") or len(path) > MAX_PATH_LENGTH or ".." in path:
        raise BadRequest(f"Invalid path: {path!r}")
    for segment in path.split("/"):
        if not _SEGMENT.match(segment):
            raise BadRequest(f"Invalid path: {path!r}")


async def check_free(session: AsyncSession, version_id: int, path: str) -> None:
    """409 when `path` is taken, is a folder, or lies under a file."""
    paths = [node for node, _ in nodes(path)]
    query = select(AssetPath.path, AssetPath.asset_id).where(
        AssetPath.version_id == version_id, AssetPath.path.in_(paths)
    )
    found: dict[str, uuid.UUID | None] = {
        row.path: row.asset_id for row in await session.execute(query)
    }
    if path in found and found[path] is not None:
        raise Conflict("An asset with that path already exists")
    blocking = sorted(
        node for node, asset_id in found.items() if node == path or asset_id is not None
    )
    if blocking:
        raise Conflict(f'Path of new asset "{path}" conflicts with existing assets: {blocking}')


async def children(
    session: AsyncSession, version_id: int, prefix: str, *, offset: int, limit: int
) -> tuple[list[AssetPath], int] | None:
    """Direct children of folder `prefix` ("" = root), or None when there is no such folder."""
    if prefix:
        folder = await session.scalar(
            select(AssetPath.asset_id.is_(None)).where(
                AssetPath.version_id == version_id, AssetPath.path == prefix
            )
        )
        if not folder:
            return None
    # The count as a window on the page's rows, in the same statement (an empty page past
    # the first is a 404 whatever the count; an empty first page means none).
    query = select(AssetPath, func.count().over()).where(
        AssetPath.version_id == version_id, AssetPath.parent == prefix
    )
    rows = (await session.execute(query.order_by(AssetPath.path).offset(offset).limit(limit))).all()
    return [row[0] for row in rows], int(rows[0][1]) if rows else 0
