"""Accounts: create or update users and give them an API key.

The api (key rotation), the operators' CLI and the local stack's admin bootstrap all write
accounts through these two functions.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.auth import hash_api_key
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import ApiToken, User


async def ensure_user(
    session: AsyncSession,
    *,
    username: str,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    approve: bool = False,
    admin: bool | None = None,
) -> tuple[User, bool]:
    """Create `username` or update it (only the fields given change); True if created."""
    user = await session.scalar(select(User).where(User.username == username))
    created = user is None
    if user is None:
        # Every column set here, so nothing needs reloading from server defaults after flush.
        user = User(
            username=username,
            email="",
            first_name="",
            last_name="",
            status=UserStatus.INCOMPLETE,
            is_admin=False,
            is_active=True,
        )
        session.add(user)
    if email is not None:
        user.email = email
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    if approve:
        user.status = UserStatus.APPROVED
    if admin is not None:
        user.is_admin = admin
    await session.flush()
    return user, created


async def set_api_key(session: AsyncSession, user_id: int, key: str) -> None:
    """Give the user this key (only its hash is stored), replacing their old one."""
    # One upsert, so two concurrent rotations cannot both insert and trip the unique user_id.
    key_hash = hash_api_key(key)
    statement = insert(ApiToken).values(user_id=user_id, key_hash=key_hash)
    statement = statement.on_conflict_do_update(
        index_elements=[ApiToken.user_id], set_={"key_hash": key_hash, "created": func.now()}
    )
    await session.execute(statement)
