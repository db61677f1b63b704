"""Authentication and permission dependencies, with DANDI's 401/403 rules.

- No or unusable credentials on a route that needs them: 401 (with DANDI's OAuth challenge).
- A credential that does not match a key: 401 "Invalid token." (on every route, as DRF).
- Authenticated but not allowed (unapproved user writing, non-owner, non-admin): 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import User
from dandelion_common.errors import NotAuthenticated, PermissionDenied
from dandelion_common.web.auth import MaybeUser, get_current_user

__all__ = ["MaybeUser", "get_current_user"]  # the API's routes import them from here


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
