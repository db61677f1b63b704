"""The auth dependencies on a small app of their own: who is the caller, and may they pass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from conftest import auth, bearer, serve
from factories import create_user
from fastapi import FastAPI, Request
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.auth.dependencies import AdminUser, ApprovedUser, AuthenticatedUser, MaybeUser
from dandelion_api.resources import ApiResources
from dandelion_common.browser_sessions import end_session, start_session, token_digest
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import BrowserSession
from dandelion_common.settings import Settings
from dandelion_common.web.errors import install_error_handlers

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Invalid token."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
CHALLENGE = 'Bearer realm="api"'


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/maybe")
    async def maybe(request: Request, user: MaybeUser) -> dict[str, str | None]:
        return {
            "user": user.username if user else None,
            "logged_as": request.state.username,
            "key": getattr(request.state, "api_key", None),
        }

    @app.get("/authenticated")
    async def authenticated(user: AuthenticatedUser) -> str:
        return user.username

    @app.get("/approved")
    async def approved(user: ApprovedUser) -> str:
        return user.username

    @app.get("/admin")
    async def admin(user: AdminUser) -> str:
        return user.username

    return app


@pytest.fixture
async def client(resources: ApiResources) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(_app(), resources) as client:
        yield client


async def test_no_header_is_anonymous(client: httpx.AsyncClient) -> None:
    response = await client.get("/maybe")
    assert response.status_code == 200
    assert response.json() == {"user": None, "logged_as": "AnonymousUser", "key": None}


@pytest.mark.parametrize("header", ["Bearer xyz", "Basic dXNlcjpwYXNz", "token", "token   ", "xyz"])
async def test_other_schemes_and_empty_keys_are_anonymous(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/maybe", headers={"Authorization": header})
    assert response.status_code == 200
    assert response.json()["user"] is None
    required = await client.get("/authenticated", headers={"Authorization": header})
    assert required.status_code == 401
    assert required.json() == NOT_PROVIDED
    assert required.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize("scheme", ["token", "Token", "TOKEN"])
async def test_a_key_authenticates_with_any_case_of_the_scheme(
    client: httpx.AsyncClient, session: AsyncSession, scheme: str
) -> None:
    user, key = await create_user(session)
    response = await client.get("/maybe", headers={"Authorization": f"{scheme} {key}"})
    assert response.json() == {"user": user.username, "logged_as": user.username, "key": key}


@pytest.mark.parametrize("path", ["/maybe", "/authenticated", "/approved", "/admin"])
async def test_a_wrong_key_is_401_even_where_anonymous_is_allowed(
    client: httpx.AsyncClient, session: AsyncSession, path: str
) -> None:
    _, key = await create_user(session)
    response = await client.get(path, headers=auth(key[::-1]))
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert response.headers["WWW-Authenticate"] == CHALLENGE


async def test_an_inactive_users_key_is_invalid(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session, is_active=False)
    response = await client.get("/maybe", headers=auth(key))
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


@pytest.mark.parametrize("path", ["/authenticated", "/approved", "/admin"])
async def test_anonymous_is_401_where_a_user_is_needed(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
    assert response.headers["WWW-Authenticate"] == CHALLENGE


async def test_approved_users_pass_approved_routes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user, key = await create_user(session, status=UserStatus.APPROVED)
    response = await client.get("/approved", headers=auth(key))
    assert response.status_code == 200
    assert response.json() == user.username


@pytest.mark.parametrize("status", [UserStatus.INCOMPLETE, UserStatus.PENDING, UserStatus.REJECTED])
async def test_unapproved_users_are_authenticated_but_not_approved(
    client: httpx.AsyncClient, session: AsyncSession, status: UserStatus
) -> None:
    user, key = await create_user(session, status=status)
    assert (await client.get("/authenticated", headers=auth(key))).json() == user.username
    response = await client.get("/approved", headers=auth(key))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_admins_pass_approval_whatever_their_status(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session, status=UserStatus.PENDING, admin=True)
    assert (await client.get("/approved", headers=auth(key))).status_code == 200
    assert (await client.get("/admin", headers=auth(key))).status_code == 200


async def test_admin_routes_refuse_approved_non_admins(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    response = await client.get("/admin", headers=auth(key))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def _session_token(session: AsyncSession, settings: Settings, **fields: Any) -> str:
    user, _ = await create_user(session, **fields)
    return await start_session(session, user, settings=settings.auth)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_a_session_token_authenticates_as_its_user(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, scheme: str
) -> None:
    user, _ = await create_user(session)
    token = await start_session(session, user, settings=settings.auth)
    response = await client.get("/maybe", headers={"Authorization": f"{scheme} {token}"})
    # No API key was presented: the routes that answer with the caller's key know it.
    assert response.json() == {"user": user.username, "logged_as": user.username, "key": None}
    assert (await client.get("/approved", headers=bearer(token))).json() == user.username


async def _expire_idle(session: AsyncSession, token: str) -> None:
    await session.execute(
        update(BrowserSession)
        .where(BrowserSession.token_digest == token_digest(token))
        .values(last_seen=func.now() - timedelta(days=8))
    )


async def _expire_absolute(session: AsyncSession, token: str) -> None:
    await session.execute(
        update(BrowserSession)
        .where(BrowserSession.token_digest == token_digest(token))
        .values(expires_at=func.now())
    )


async def _end(session: AsyncSession, token: str) -> None:
    assert await end_session(session, token)


@pytest.mark.parametrize("spoil", [_end, _expire_idle, _expire_absolute])
async def test_an_ended_or_expired_session_is_anonymous(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    spoil: Callable[[AsyncSession, str], Awaitable[None]],
) -> None:
    token = await _session_token(session, settings)
    await spoil(session, token)
    response = await client.get("/maybe", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"user": None, "logged_as": "AnonymousUser", "key": None}
    required = await client.get("/authenticated", headers=bearer(token))
    assert required.status_code == 401
    assert required.json() == NOT_PROVIDED
    assert required.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    "fields", [{"is_active": False}, {"status": UserStatus.REJECTED}], ids=["inactive", "rejected"]
)
async def test_a_session_of_a_user_not_allowed_in_is_anonymous(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, fields: dict[str, Any]
) -> None:
    token = await _session_token(session, settings, **fields)
    assert (await client.get("/maybe", headers=bearer(token))).json()["user"] is None
    assert (await client.get("/authenticated", headers=bearer(token))).status_code == 401


async def test_session_tokens_and_api_keys_do_not_cross(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user, key = await create_user(session)
    token = await start_session(session, user, settings=settings.auth)
    # A session token presented as a key is a wrong key; a key presented as Bearer, no session.
    assert (await client.get("/maybe", headers=auth(token))).json() == INVALID_TOKEN
    assert (await client.get("/maybe", headers=bearer(key))).json()["user"] is None
