"""The search outbox: a row per change search must see, written in the changing transaction."""

from __future__ import annotations

from sqlalchemy import cast, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from dandelion_common.db.enums import OutboxEntity, OutboxOperation
from dandelion_common.db.models import SearchOutbox, VersionAsset


def emit(
    session: AsyncSession,
    entity: OutboxEntity,
    entity_id: object,
    operation: OutboxOperation = OutboxOperation.UPSERT,
) -> None:
    session.add(SearchOutbox(entity_type=entity, entity_id=str(entity_id), operation=operation))


async def emit_assets_of(session: AsyncSession, version_id: int) -> None:
    """An upsert row for every asset of a version, in one statement (a version may hold a
    million assets)."""
    assets = select(
        literal(OutboxEntity.ASSET.value),
        cast(VersionAsset.asset_id, Text),
        literal(OutboxOperation.UPSERT.value),
    ).where(VersionAsset.version_id == version_id)
    columns = ["entity_type", "entity_id", "operation"]
    await session.execute(insert(SearchOutbox).from_select(columns, assets))
