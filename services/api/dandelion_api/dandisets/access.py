"""Who may see and change a dandiset: owners and admins; embargoed ones hidden from others."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.exceptions import UnembargoInProgress
from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import Dandiset, DandisetOwner, User
from dandelion_common.errors import NotAuthenticated, NotFound, PermissionDenied

EMBARGOED = (EmbargoStatus.EMBARGOED, EmbargoStatus.UNEMBARGOING)


def ensure_modifiable(dandiset: Dandiset) -> None:
    """Refuse a write to a dandiset being unembargoed (the job reads it as it stands)."""
    if dandiset.embargo_status is EmbargoStatus.UNEMBARGOING:
        raise UnembargoInProgress()


def owned_by(user: User) -> ColumnElement[bool]:
    """SQL: `Dandiset` (in the query's FROM) is owned by `user`."""
    return exists().where(
        DandisetOwner.dandiset_id == Dandiset.id, DandisetOwner.user_id == user.id
    )


def readable_by(user: User | None) -> ColumnElement[bool]:
    """SQL: `Dandiset` (in the query's FROM) may be read by `user`: open ones by anyone,
    embargoed ones by their owners, all by admins (`readable_dandiset`'s rule, for lists)."""
    open_ = Dandiset.embargo_status == EmbargoStatus.OPEN
    if user is None:
        return open_
    if user.is_admin:
        return true()
    return or_(open_, owned_by(user))


async def is_owner(session: AsyncSession, dandiset_id: int, user: User | None) -> bool:
    if user is None:
        return False
    if user.is_admin:
        return True
    query = select(
        exists().where(DandisetOwner.dandiset_id == dandiset_id, DandisetOwner.user_id == user.id)
    )
    return bool(await session.scalar(query))


async def get_dandiset(session: AsyncSession, dandiset_id: int, *, lock: bool = False) -> Dandiset:
    query = select(Dandiset).where(Dandiset.id == dandiset_id)
    if lock:
        query = query.with_for_update()
    dandiset = await session.scalar(query)
    if dandiset is None:
        raise NotFound("No Dandiset matches the given query.")
    return dandiset


async def readable_dandiset(session: AsyncSession, dandiset_id: int, user: User | None) -> Dandiset:
    """The dandiset if the caller may read it; embargoed: anonymous 401, non-owner 403."""
    dandiset = await get_dandiset(session, dandiset_id)
    if dandiset.embargo_status in EMBARGOED and not await is_owner(session, dandiset_id, user):
        if user is None:
            raise NotAuthenticated()
        raise PermissionDenied()
    return dandiset


async def owned_dandiset(
    session: AsyncSession, dandiset_id: int, user: User, *, lock: bool = False
) -> Dandiset:
    """The dandiset if the caller owns it (admins own everything); else 403 (404 if unknown)."""
    dandiset = await get_dandiset(session, dandiset_id, lock=lock)
    if not await is_owner(session, dandiset_id, user):
        raise PermissionDenied()
    return dandiset
