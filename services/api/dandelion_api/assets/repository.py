"""Asset queries: the version's asset list and lookups."""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    Dandiset,
    DandisetOwner,
    Version,
    VersionAsset,
    ZarrArchive,
    ZarrSnapshot,
)


class AssetRow(NamedTuple):
    """An asset with what its document is made of: its blob, or its zarr snapshot (None
    before the first ingest) and whether the zarr's dandiset is under embargo."""

    asset: Asset
    blob: AssetBlob | None
    snapshot: ZarrSnapshot | None
    zarr_embargoed: bool

    @property
    def size(self) -> int:
        if self.blob is not None:
            return self.blob.size
        return self.snapshot.size if self.snapshot is not None else 0


def _rows() -> Select[Asset, AssetBlob, ZarrSnapshot, EmbargoStatus]:
    return (
        select(Asset, AssetBlob, ZarrSnapshot, Dandiset.embargo_status)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .outerjoin(ZarrSnapshot, ZarrSnapshot.id == Asset.zarr_snapshot_id)
        .outerjoin(ZarrArchive, ZarrArchive.id == Asset.zarr_id)
        .outerjoin(Dandiset, Dandiset.id == ZarrArchive.dandiset_id)
    )


def _row(row: Any) -> AssetRow:
    status = row[3]
    return AssetRow(row[0], row[1], row[2], status is not None and status != EmbargoStatus.OPEN)


def glob_regex(pattern: str) -> str:
    """DANDI's glob: the pattern is regex-escaped, then `*` matches anything, `/` included."""
    return "^" + re.escape(pattern).replace(r"\*", ".*") + "$"


def _ids(
    version_id: int, path: str | None, glob: str | None, exact: bool, zarr: bool
) -> Select[uuid.UUID]:
    """The version's asset ids matching the filters, from `version_assets` (and, for `zarr`,
    the asset rows)."""
    query = select(VersionAsset.asset_id).where(VersionAsset.version_id == version_id)
    if zarr:
        # Correlated on version_assets only: `_ordered` may join assets to the outer query.
        zarr_asset = (
            select(Asset.id)
            .where(Asset.id == VersionAsset.asset_id, Asset.zarr_id.is_not(None))
            .correlate_except(Asset)
        )
        query = query.where(zarr_asset.exists())
    if path is not None and exact:
        query = query.where(VersionAsset.path == path)
    elif path:
        prefix = path.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        query = query.where(func.lower(VersionAsset.path).like(prefix + "%"))
    if glob:
        query = query.where(VersionAsset.path.regexp_match(glob_regex(glob), flags="i"))
    return query


def _order_key(order: str) -> InstrumentedAttribute[Any]:
    if order.lstrip("-") == "modified":
        return Asset.modified
    return VersionAsset.path if order.lstrip("-") == "path" else VersionAsset.created


def _ordered(query: Select[Any], order: str) -> Select[Any]:
    # Asset rows are immutable, so the copy of `created` in version_assets orders exactly as the
    # asset's own, and (version_id, created, asset_id) serves it from the index alone.
    column = _order_key(order)
    if column is Asset.modified:
        query = query.join(Asset, Asset.id == VersionAsset.asset_id)
    return query.order_by(*_direction(order, column, VersionAsset.asset_id))


def _direction(order: str, *columns: Any) -> list[Any]:
    return [c.desc() if order.startswith("-") else c.asc() for c in columns]


# Deep pages of big versions: OFFSET walks every earlier index entry (about 60 ms at page 5,000
# of 1M assets). The sort keys of every STRIDE-th row are computed once per version revision
# (the key includes `modified`, which every asset change bumps) and kept per process, so a deep
# page seeks from the nearest key and skips fewer than STRIDE rows.
STRIDE = 1000
_BOUNDARY_CACHE: OrderedDict[tuple[int, datetime, str], list[tuple[Any, uuid.UUID]]] = OrderedDict()
_BOUNDARY_CACHE_SIZE = 64


def _sort_column(order: str) -> InstrumentedAttribute[Any]:
    return VersionAsset.path if order.lstrip("-") == "path" else VersionAsset.created


async def _boundaries(
    session: AsyncSession, version: Version, order: str
) -> list[tuple[Any, uuid.UUID]]:
    key = (version.id, version.modified, order)
    if key in _BOUNDARY_CACHE:
        _BOUNDARY_CACHE.move_to_end(key)
        return _BOUNDARY_CACHE[key]
    column = _sort_column(order)
    descending = order.startswith("-")
    ordering = (
        (column.desc(), VersionAsset.asset_id.desc())
        if descending
        else (column, VersionAsset.asset_id)
    )
    numbered = (
        select(
            column.label("k"),
            VersionAsset.asset_id,
            func.row_number().over(order_by=ordering).label("rn"),
        )
        .where(VersionAsset.version_id == version.id)
        .subquery()
    )
    rows = await session.execute(
        select(numbered.c.k, numbered.c.asset_id)
        .where(numbered.c.rn % STRIDE == 0)
        .order_by(numbered.c.rn)
    )
    found = [(row[0], row[1]) for row in rows]
    _BOUNDARY_CACHE[key] = found
    if len(_BOUNDARY_CACHE) > _BOUNDARY_CACHE_SIZE:
        _BOUNDARY_CACHE.popitem(last=False)
    return found


async def _seek(
    session: AsyncSession, version: Version, query: Select[uuid.UUID], order: str, offset: int
) -> tuple[Select[uuid.UUID], int]:
    """Replace most of a deep OFFSET by a seek past a cached boundary key."""
    strides = offset // STRIDE
    if strides < 2 or order.lstrip("-") == "modified":
        return query, offset
    keys = await _boundaries(session, version, order)
    if strides > len(keys):
        return query, offset
    boundary, boundary_id = keys[strides - 1]
    row = tuple_(_sort_column(order), VersionAsset.asset_id)
    after = (
        row < tuple_(boundary, boundary_id)
        if order.startswith("-")
        else row > tuple_(boundary, boundary_id)
    )
    return query.where(after), offset - strides * STRIDE


async def page(
    session: AsyncSession,
    version: Version,
    *,
    path: str | None,
    glob: str | None,
    zarr: bool,
    order: str,
    offset: int,
    limit: int,
    with_count: bool,
) -> tuple[list[AssetRow], int | None]:
    """A page (limit + 1 rows show whether a next page exists), and the count if asked."""
    exact = False
    if path:
        exact = bool(
            await session.scalar(
                select(
                    exists().where(VersionAsset.version_id == version.id, VersionAsset.path == path)
                )
            )
        )
    query = _ids(version.id, path, glob, exact, zarr)
    filtered = bool(path or glob or zarr)
    count = None
    if with_count:
        count = (
            int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
            if filtered
            else version.asset_count  # kept up to date on every change: no count over a big version
        )
    if not filtered:
        query, offset = await _seek(session, version, query, order, offset)
    # The page's ids (from the index on version_assets) joined to their rows in the same
    # statement, ordered again by the sort key the page carries out.
    keyed = query.add_columns(_order_key(order).label("key"))
    ids = _ordered(keyed, order).offset(offset).limit(limit + 1).subquery("page")
    page_order = _direction(order, ids.c.key, ids.c.asset_id)
    joined = _rows().join(ids, ids.c.asset_id == Asset.id).order_by(*page_order)
    return [_row(row) for row in await session.execute(joined)], count


async def in_version(
    session: AsyncSession, version_id: int, asset_id: uuid.UUID
) -> AssetRow | None:
    query = (
        _rows()
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .where(VersionAsset.version_id == version_id, Asset.id == asset_id)
    )
    row = (await session.execute(query)).first()
    return _row(row) if row else None


async def by_id(session: AsyncSession, asset_id: uuid.UUID) -> AssetRow | None:
    row = (await session.execute(_rows().where(Asset.id == asset_id))).first()
    return _row(row) if row else None


async def owns_zarr_dandiset(session: AsyncSession, zarr_id: uuid.UUID, user_id: int) -> bool:
    """The user owns the dandiset the zarr belongs to (a zarr never leaves its dandiset)."""
    query = select(
        exists()
        .where(ZarrArchive.id == zarr_id)
        .where(DandisetOwner.dandiset_id == ZarrArchive.dandiset_id)
        .where(DandisetOwner.user_id == user_id)
    )
    return bool(await session.scalar(query))


async def owns_a_dandiset_holding(session: AsyncSession, asset_id: uuid.UUID, user_id: int) -> bool:
    query = select(
        exists()
        .where(VersionAsset.asset_id == asset_id)
        .where(Version.id == VersionAsset.version_id)
        .where(DandisetOwner.dandiset_id == Version.dandiset_id, DandisetOwner.user_id == user_id)
    )
    return bool(await session.scalar(query))


async def in_embargoed_dandiset(session: AsyncSession, asset_id: uuid.UUID) -> bool:
    """The asset is in a version of a dandiset that is not OPEN (embargoed or unembargoing)."""
    query = select(
        exists()
        .where(VersionAsset.asset_id == asset_id)
        .where(Version.id == VersionAsset.version_id)
        .where(Dandiset.id == Version.dandiset_id)
        .where(Dandiset.embargo_status != EmbargoStatus.OPEN)
    )
    return bool(await session.scalar(query))
