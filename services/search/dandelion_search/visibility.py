"""What a caller may find: open content for everyone, embargoed dandisets for their owners,
everything for admins (the rules of the API's `dandisets.access`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import Dandiset, DandisetOwner, User
from dandelion_search.schemas import Visibility


async def visibility_for(session: AsyncSession, user: User | None) -> Visibility:
    """The caller's visibility; anonymous callers and admins need no query."""
    if user is None:
        return Visibility.anonymous()
    if user.is_admin:
        return Visibility.administrator()
    # Only embargoed dandisets matter: open ones are visible to everyone anyway, and a
    # prolific owner's open dandisets would only make every search's filter longer.
    owned = (
        select(DandisetOwner.dandiset_id)
        .join(Dandiset, Dandiset.id == DandisetOwner.dandiset_id)
        .where(DandisetOwner.user_id == user.id, Dandiset.embargo_status != EmbargoStatus.OPEN)
    )
    return Visibility.owner_of(set(await session.scalars(owned)))
