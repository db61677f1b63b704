"""Who may see and change a dandiset: owners and admins; embargoed ones hidden from others."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, or_, select, true
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


def owner_flag(user: User | None) -> ColumnElement[bool]:
    """SQL: `user` owns `Dandiset` (in the query's FROM); admins own every dandiset.

    A column of the query that reads the dandiset, so a permission check costs no statement
    of its own."""
    if user is None:
        return false()
    if user.is_admin:
        return true()
    return owned_by(user)


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
    return (await _with_ownership(session, dandiset_id, None, lock=lock))[0]


async def _with_ownership(
    session: AsyncSession, dandiset_id: int, user: User | None, *, lock: bool = False
) -> tuple[Dandiset, bool]:
    """The dandiset and whether `user` owns it, in one statement (404 if unknown)."""
    query = select(Dandiset, owner_flag(user)).where(Dandiset.id == dandiset_id)
    if lock:
        query = query.with_for_update(of=Dandiset)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("No Dandiset matches the given query.")
    return row[0], bool(row[1])


def ensure_readable(dandiset: Dandiset, *, owned: bool, user: User | None) -> None:
    """Embargoed dandisets are their owners' (and admins'): anonymous 401, others 403."""
    if dandiset.embargo_status in EMBARGOED and not owned:
        if user is None:
            raise NotAuthenticated()
        raise PermissionDenied()


def ensure_owned(*, owned: bool) -> None:
    if not owned:
        raise PermissionDenied()


async def readable_dandiset(session: AsyncSession, dandiset_id: int, user: User | None) -> Dandiset:
    """The dandiset if the caller may read it; embargoed: anonymous 401, non-owner 403."""
    dandiset, owned = await _with_ownership(session, dandiset_id, user)
    ensure_readable(dandiset, owned=owned, user=user)
    return dandiset


async def owned_dandiset(
    session: AsyncSession, dandiset_id: int, user: User, *, lock: bool = False
) -> Dandiset:
    """The dandiset if the caller owns it (admins own everything); else 403 (404 if unknown)."""
    dandiset, owned = await _with_ownership(session, dandiset_id, user, lock=lock)
    ensure_owned(owned=owned)
    return dandiset
