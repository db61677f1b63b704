"""`/api/auth/token/` and `/api/users/...`, with DANDI's permissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from dandelion_api.auth.dependencies import AdminUser, ApprovedUser, AuthenticatedUser
from dandelion_api.users import service
from dandelion_api.users.schemas import UserDetail
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

# 403: users not yet approved (and non-admins where admins are needed).
auth_router = APIRouter(prefix="/auth", tags=["auth"], responses=errors(403))
router = APIRouter(prefix="/users", tags=["users"], responses={})


@auth_router.get("/token/", response_model=str)
async def get_token(request: Request, user: ApprovedUser) -> str:
    """The caller's API key, as a bare JSON string (the dandi client checks keys with it)."""
    return service.presented_key(getattr(request.state, "api_key", None))


@auth_router.post("/token/", response_model=str)
async def rotate_token(session: SessionDep, user: ApprovedUser) -> str:
    """Replace the caller's API key with a new one and return it; the old key stops working."""
    return await service.rotate_api_key(session, user=user)


@router.get("/me/", response_model=UserDetail)
async def get_me(user: AuthenticatedUser) -> UserDetail:
    """The authenticated caller, approved or not."""
    return UserDetail.of(user)


@router.get("/search/", response_model=list[UserDetail], responses=errors(403))
async def search_users(
    session: SessionDep,
    user: ApprovedUser,
    username: Annotated[str | None, Query(description="Part of a username or name")] = None,
) -> list[UserDetail]:
    """Up to 10 approved users whose username, first or last name contains `username`."""
    return [UserDetail.of(found) for found in await service.search_users(session, text=username)]


@router.get("/", response_model=list[str], responses=errors(403))
async def list_users(
    session: SessionDep, user: AdminUser, approved_only: bool = False
) -> list[str]:
    """Every username, sorted; `approved_only` keeps the approved ones (admins only)."""
    return await service.list_usernames(session, approved_only=approved_only)
