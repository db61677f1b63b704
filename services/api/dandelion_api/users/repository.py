"""Queries on users and their API key hashes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import User


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    user: User | None = await session.scalar(select(User).where(User.username == username))
    return user


async def search_approved(session: AsyncSession, text: str, *, limit: int) -> Sequence[User]:
    """Active approved users with `text` in their username, first or last name, any case."""
    # autoescape: `%` and `_` in the query are literal characters, as in Django's icontains.
    matches = or_(
        User.username.icontains(text, autoescape=True),
        User.first_name.icontains(text, autoescape=True),
        User.last_name.icontains(text, autoescape=True),
    )
    query = (
        select(User)
        .where(matches, User.is_active, User.status == UserStatus.APPROVED)
        .order_by(User.username)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def list_usernames(session: AsyncSession, *, approved_only: bool) -> list[str]:
    query = select(User.username).order_by(User.username)
    if approved_only:
        query = query.where(User.status == UserStatus.APPROVED)
    return list((await session.scalars(query)).all())
