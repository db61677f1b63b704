"""Zarr queries: archives visible to a caller, snapshots, and snapshot entries by key order."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.access import readable_by
from dandelion_common.db.models import (
    Dandiset,
    User,
    ZarrArchive,
    ZarrSnapshot,
    ZarrSnapshotEntry,
)


async def archive(
    session: AsyncSession, zarr_id: uuid.UUID, *, lock: bool = False
) -> ZarrArchive | None:
    query = select(ZarrArchive).where(ZarrArchive.id == zarr_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def snapshot(
    session: AsyncSession, snapshot_id: uuid.UUID
) -> tuple[ZarrSnapshot, ZarrArchive] | None:
    query = (
        select(ZarrSnapshot, ZarrArchive)
        .join(ZarrArchive, ZarrArchive.id == ZarrSnapshot.zarr_id)
        .where(ZarrSnapshot.id == snapshot_id)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def create(session: AsyncSession, dandiset_id: int, name: str) -> ZarrArchive | None:
    """A new Pending archive, or None when the dandiset has one by that name already.

    ON CONFLICT rather than catching the IntegrityError: the request's transaction stays
    usable, and two concurrent creates of one name cannot both succeed.
    """
    created = await session.scalar(
        insert(ZarrArchive)
        .values(id=uuid.uuid4(), dandiset_id=dandiset_id, name=name)
        .on_conflict_do_nothing(index_elements=[ZarrArchive.dandiset_id, ZarrArchive.name])
        .returning(ZarrArchive.id)
    )
    return await session.get(ZarrArchive, created) if created is not None else None


def _listed(user: User | None, dandiset_id: int | None, name: str | None) -> Select[ZarrArchive]:
    query = (
        select(ZarrArchive)
        .join(Dandiset, Dandiset.id == ZarrArchive.dandiset_id)
        .where(readable_by(user))
    )
    if dandiset_id is not None:
        query = query.where(ZarrArchive.dandiset_id == dandiset_id)
    if name is not None:
        query = query.where(ZarrArchive.name == name)
    return query


async def page(
    session: AsyncSession,
    user: User | None,
    *,
    dandiset_id: int | None,
    name: str | None,
    offset: int,
    limit: int,
) -> tuple[list[ZarrArchive], int]:
    """One page of the archives the caller may see, oldest first (DANDI's order), and the
    total."""
    query = _listed(user, dandiset_id, name)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(ZarrArchive.created, ZarrArchive.id).offset(offset).limit(limit)
    )
    return list(rows), int(count or 0)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return escaped + "%"


async def entries(
    session: AsyncSession, snapshot_id: uuid.UUID, *, prefix: str, after: str, limit: int
) -> list[ZarrSnapshotEntry]:
    """Up to `limit` entries under `prefix` after the path `after`, in S3's key order: a
    range scan of the primary key (snapshot_id, path), whose C collation orders as bytes."""
    query = select(ZarrSnapshotEntry).where(ZarrSnapshotEntry.snapshot_id == snapshot_id)
    if prefix:
        query = query.where(ZarrSnapshotEntry.path.like(_like_prefix(prefix), escape="\\"))
    if after:
        query = query.where(ZarrSnapshotEntry.path > after)
    rows = await session.scalars(query.order_by(ZarrSnapshotEntry.path).limit(limit))
    return list(rows)


async def entry(
    session: AsyncSession, snapshot_id: uuid.UUID, path: str
) -> ZarrSnapshotEntry | None:
    return await session.get(ZarrSnapshotEntry, (snapshot_id, path))
