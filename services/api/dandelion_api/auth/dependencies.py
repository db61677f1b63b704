"""Authentication and permission dependencies, with DANDI's 401/403 rules.

- No or unusable credentials on a route that needs them: 401 (with DANDI's OAuth challenge).
- A credential that does not match a key: 401 "Invalid token." (on every route, as DRF).
- Authenticated but not allowed (unapproved user writing, non-owner, non-admin): 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from dandelion_common.auth import hash_api_key
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import ApiToken, User
from dandelion_common.errors import InvalidToken, NotAuthenticated, PermissionDenied
from dandelion_common.web.resources import ResourcesDep

_SCHEME = "token"


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != _SCHEME or not key.strip():
        # DRF ignores other schemes (e.g. Bearer for the web UI's OAuth): the caller is anonymous.
        return None
    return key.strip()


async def get_current_user(request: Request, resources: ResourcesDep) -> User | None:
    """The caller, or None when anonymous. A wrong key is a 401, never anonymous.

    It runs on every /api route, so anonymous requests must not touch the database: the
    lookup opens its own short session only when a key is presented.
    """
    key = _presented_key(request)
    if key is None:
        request.state.username = "AnonymousUser"
        return None
    # The lookup is by the key's SHA-256, so no comparison of secret strings happens here.
    query = (
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.key_hash == hash_api_key(key))
    )
    async with resources.db.session() as session:
        user = await session.scalar(query)
    if user is None or not user.is_active:
        raise InvalidToken()
    request.state.username = user.username
    request.state.api_key = key
    return user


MaybeUser = Annotated[User | None, Depends(get_current_user)]


async def require_user(user: MaybeUser) -> User:
    if user is None:
        raise NotAuthenticated()
    return user


AuthenticatedUser = Annotated[User, Depends(require_user)]


def is_approved(user: User) -> bool:
    return user.is_admin or user.status is UserStatus.APPROVED


async def require_approved(user: AuthenticatedUser) -> User:
    """DANDI's IsApprovedOrReadOnly for unsafe methods: approved users and admins only."""
    if not is_approved(user):
        raise PermissionDenied()
    return user


ApprovedUser = Annotated[User, Depends(require_approved)]


async def require_admin(user: AuthenticatedUser) -> User:
    if not user.is_admin:
        raise PermissionDenied()
    return user


AdminUser = Annotated[User, Depends(require_admin)]
