"""Users and API keys: what the routes and the operators' CLI do."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.users import repository
from dandelion_common.accounts import set_api_key
from dandelion_common.auth import generate_api_key
from dandelion_common.db.models import User
from dandelion_common.errors import NotFound

SEARCH_LIMIT = 10


def presented_key(api_key: str | None) -> str:
    """The caller's key: only its hash is stored, so it is the one they authenticated with."""
    if api_key is None:
        # DANDI's 404 for a user without a token (e.g. a future OAuth session login).
        raise NotFound()
    return api_key


async def rotate_api_key(session: AsyncSession, *, user: User) -> str:
    """A new key for `user`; the old one stops working when the transaction commits."""
    key = generate_api_key()
    await set_api_key(session, user.id, key)
    return key


async def search_users(session: AsyncSession, *, text: str | None) -> Sequence[User]:
    """Up to 10 active approved users matching `text`; nothing for a missing or blank one."""
    text = (text or "").strip()
    if not text:
        return []
    return await repository.search_approved(session, text, limit=SEARCH_LIMIT)


async def list_usernames(session: AsyncSession, *, approved_only: bool) -> list[str]:
    return await repository.list_usernames(session, approved_only=approved_only)


async def replace_api_key(session: AsyncSession, *, username: str) -> str:
    """A new key for the user named `username`, replacing their old one."""
    user = await repository.get_by_username(session, username)
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return await rotate_api_key(session, user=user)
