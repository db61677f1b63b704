"""Queries of the meta context: each route is answered by one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import BigInteger, ColumnElement, cast, distinct, exists, func, or_, select
from sqlalchemy import tuple_ as sql_tuple
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    AuditRecord,
    Dandiset,
    DandisetOwner,
    User,
    Version,
    VersionAsset,
    ZarrSnapshot,
)

ASSET_RECORD_TYPES = ("add_asset", "update_asset", "remove_asset")


@dataclass(frozen=True)
class StatsRow:
    dandiset_count: int
    published_dandiset_count: int
    user_count: int
    size: int


async def application_stats(session: AsyncSession) -> StatsRow:
    """All four counters in one round trip (scalar subqueries, each on an indexed table)."""
    referenced_blobs = (
        select(Asset.blob_id)
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .where(Asset.blob_id.is_not(None))
    )
    # IN (...) counts each blob once however many versions or assets share it.
    size = select(cast(func.coalesce(func.sum(AssetBlob.size), 0), BigInteger)).where(
        AssetBlob.id.in_(referenced_blobs)
    )
    # Zarrs count by the snapshots versions hold (a published one and the draft may differ).
    referenced_snapshots = (
        select(Asset.zarr_snapshot_id)
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .where(Asset.zarr_snapshot_id.is_not(None))
    )
    zarr_size = select(cast(func.coalesce(func.sum(ZarrSnapshot.size), 0), BigInteger)).where(
        ZarrSnapshot.id.in_(referenced_snapshots)
    )
    statement = select(
        select(func.count()).select_from(Dandiset).scalar_subquery(),
        select(func.count(distinct(Version.dandiset_id)))
        .where(Version.version != "draft")
        .scalar_subquery(),
        select(func.count()).where(User.status == UserStatus.APPROVED).scalar_subquery(),
        size.scalar_subquery() + zarr_size.scalar_subquery(),
    )
    row = (await session.execute(statement)).one()
    return StatsRow(*(int(value) for value in row))


async def asset_audit_records(
    session: AsyncSession,
    *,
    before: datetime | None,
    after: datetime | None,
    position: tuple[datetime, int] | None,
    ascending: bool,
    limit: int,
) -> Sequence[AuditRecord]:
    """Asset audit records in (timestamp, id) order, strictly past `position` in that order."""
    key = sql_tuple(AuditRecord.timestamp, AuditRecord.id)
    statement = select(AuditRecord).where(AuditRecord.record_type.in_(ASSET_RECORD_TYPES))
    if before is not None:
        statement = statement.where(AuditRecord.timestamp <= before)
    if after is not None:
        statement = statement.where(AuditRecord.timestamp >= after)
    if position is not None:
        bound = sql_tuple(*position)
        statement = statement.where(key > bound if ascending else key < bound)
    if ascending:
        statement = statement.order_by(AuditRecord.timestamp, AuditRecord.id)
    else:
        statement = statement.order_by(AuditRecord.timestamp.desc(), AuditRecord.id.desc())
    return (await session.scalars(statement.limit(limit))).all()


async def find_blob(
    session: AsyncSession,
    *,
    by: Literal["etag", "sha256"],
    value: str,
    include_embargoed: bool,
    owner_id: int | None,
) -> AssetBlob | None:
    """A blob whose `by` digest is `value` and that the caller may see; open blobs win."""
    column = AssetBlob.etag if by == "etag" else AssetBlob.sha256
    statement = select(AssetBlob).where(column == value)
    if not include_embargoed:
        visible: ColumnElement[bool] = AssetBlob.embargoed.is_(False)
        if owner_id is not None:
            visible = or_(visible, _owned_by(owner_id))
        statement = statement.where(visible)
    statement = statement.order_by(AssetBlob.embargoed, AssetBlob.created, AssetBlob.id).limit(1)
    blob: AssetBlob | None = await session.scalar(statement)
    return blob


def _owned_by(user_id: int) -> ColumnElement[bool]:
    """The blob is in some version of a dandiset `user_id` owns."""
    return exists().where(
        Asset.blob_id == AssetBlob.id,
        VersionAsset.asset_id == Asset.id,
        Version.id == VersionAsset.version_id,
        DandisetOwner.dandiset_id == Version.dandiset_id,
        DandisetOwner.user_id == user_id,
    )
