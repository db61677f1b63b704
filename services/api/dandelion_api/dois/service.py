"""The DOIs of a dandiset (the doi worker keeps them in step with DataCite)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.access import readable_dandiset
from dandelion_api.dois.schemas import DoiOut
from dandelion_common.db.models import Doi, User


async def list_dois(session: AsyncSession, *, dandiset_id: int, user: User | None) -> list[DoiOut]:
    await readable_dandiset(session, dandiset_id, user)
    query = select(Doi).where(Doi.dandiset_id == dandiset_id)
    rows = await session.scalars(query.order_by(Doi.version.nulls_first(), Doi.doi))
    return [DoiOut.model_validate(row, from_attributes=True) for row in rows]
