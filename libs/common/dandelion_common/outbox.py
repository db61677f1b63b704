"""The search outbox: a row per change search must see, written in the changing transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import OutboxEntity, OutboxOperation
from dandelion_common.db.models import SearchOutbox


def emit(
    session: AsyncSession,
    entity: OutboxEntity,
    entity_id: object,
    operation: OutboxOperation = OutboxOperation.UPSERT,
) -> None:
    session.add(SearchOutbox(entity_type=entity, entity_id=str(entity_id), operation=operation))
