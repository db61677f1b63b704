"""Tombstones: what a deleted dandiset leaves behind, so its pages can answer 410, not 404.

Beyond DANDI. DANDI deletes a dandiset's rows and its `/api/dandisets/{id}/` answers 404
afterwards, which the dandi client relies on, so that answer stays; the tombstone is read
from a route of its own, `/api/dandisets/{id}/tombstone/`, which the web asks only once the
dandiset route has answered 404.

`record` is the table's one writer, called by the deletion in its transaction (a deletion
that rolls back leaves no tombstone). It is an upsert: should an admin recreate the id and
delete it again, the row names the latest deletion. The row is read as a tombstone only
while no dandiset holds its id. An embargoed dandiset's name was never public, so the route
answers it as null, to every caller: its owners are gone with it, and admins have the audit
trail.
"""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.access import EMBARGOED
from dandelion_api.dandisets.schemas import Tombstone
from dandelion_common.db.models import Dandiset, DandisetTombstone, Version
from dandelion_common.errors import NotFound


async def record(session: AsyncSession, dandiset: Dandiset) -> None:
    """Write the tombstone of `dandiset`, before its rows (and its draft's name) go."""
    draft_name = (
        select(Version.name)
        .where(Version.dandiset_id == dandiset.id, Version.version == "draft")
        .scalar_subquery()
    )
    statement = insert(DandisetTombstone).values(
        dandiset_id=dandiset.id,
        name=func.coalesce(draft_name, ""),
        embargoed=dandiset.embargo_status in EMBARGOED,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[DandisetTombstone.dandiset_id],
        set_={
            "name": statement.excluded.name,
            "embargoed": statement.excluded.embargoed,
            "deleted_at": func.now(),
        },
    )
    await session.execute(statement)


async def get(session: AsyncSession, *, dandiset_id: int) -> Tombstone:
    """The tombstone of a deleted dandiset; 404 if it was never deleted or exists again."""
    query = select(DandisetTombstone).where(
        DandisetTombstone.dandiset_id == dandiset_id,
        ~exists().where(Dandiset.id == dandiset_id),
    )
    found = await session.scalar(query)
    if found is None:
        raise NotFound()
    return Tombstone(
        identifier=f"{found.dandiset_id:06}",
        name=None if found.embargoed else found.name,
        deleted=found.deleted_at,
    )
