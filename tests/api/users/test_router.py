"""`/api/auth/token/` and `/api/users/...`: DANDI's payloads, permissions and error shapes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from conftest import auth, bearer
from factories import create_user
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.auth import hash_api_key
from dandelion_common.browser_sessions import end_sessions, start_session
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import ApiToken
from dandelion_common.settings import Settings

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Invalid token."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}

ROUTES = [
    ("GET", "/api/auth/token/"),
    ("POST", "/api/auth/token/"),
    ("GET", "/api/users/me/"),
    ("GET", "/api/users/search/?username=a"),
    ("GET", "/api/users/"),
]
UNAPPROVED = [UserStatus.INCOMPLETE, UserStatus.PENDING, UserStatus.REJECTED]


def _marker() -> str:
    """A string no other row contains, so searches see only this test's users."""
    return uuid.uuid4().hex[:10]


@pytest.mark.parametrize(("method", "url"), ROUTES)
async def test_anonymous_is_401_with_the_oauth_challenge(
    api_client: httpx.AsyncClient, method: str, url: str
) -> None:
    response = await api_client.request(method, url)
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(("method", "url"), ROUTES)
async def test_a_wrong_key_is_401_invalid_token(
    api_client: httpx.AsyncClient, method: str, url: str
) -> None:
    response = await api_client.request(method, url, headers=auth("0" * 40))
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(("method", "url"), ROUTES)
async def test_a_bearer_header_is_anonymous(
    api_client: httpx.AsyncClient, method: str, url: str
) -> None:
    response = await api_client.request(method, url, headers={"Authorization": "Bearer xyz"})
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED


async def test_get_token_returns_the_callers_key_as_a_bare_string(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    response = await api_client.get("/api/auth/token/", headers=auth(key))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == key


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", UNAPPROVED)
async def test_unapproved_users_cannot_see_or_rotate_their_token(
    api_client: httpx.AsyncClient, session: AsyncSession, method: str, status: UserStatus
) -> None:
    _, key = await create_user(session, status=status)
    response = await api_client.request(method, "/api/auth/token/", headers=auth(key))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert (await api_client.get("/api/users/me/", headers=auth(key))).status_code == 200


async def test_rotating_the_token_replaces_the_key(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user, old_key = await create_user(session)
    response = await api_client.post("/api/auth/token/", headers=auth(old_key))
    assert response.status_code == 200
    new_key = response.json()
    assert isinstance(new_key, str)
    assert len(new_key) == 40
    assert int(new_key, 16) >= 0
    assert new_key != old_key

    old = await api_client.get("/api/auth/token/", headers=auth(old_key))
    assert old.status_code == 401
    assert old.json() == INVALID_TOKEN
    new = await api_client.get("/api/auth/token/", headers=auth(new_key))
    assert new.status_code == 200
    assert new.json() == new_key

    hashes = (
        await session.scalars(select(ApiToken.key_hash).where(ApiToken.user_id == user.id))
    ).all()
    assert hashes == [hash_api_key(new_key)]


async def test_rotating_twice_keeps_one_key(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user, key = await create_user(session)
    first = (await api_client.post("/api/auth/token/", headers=auth(key))).json()
    second = (await api_client.post("/api/auth/token/", headers=auth(first))).json()
    assert second != first
    count = await session.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)
    )
    assert count == 1
    assert (await api_client.get("/api/users/me/", headers=auth(first))).status_code == 401


@pytest.mark.parametrize("status", list(UserStatus))
async def test_me_works_for_every_status(
    api_client: httpx.AsyncClient, session: AsyncSession, status: UserStatus
) -> None:
    user, key = await create_user(session, status=status, first_name="Grace", last_name="Hopper")
    response = await api_client.get("/api/users/me/", headers=auth(key))
    assert response.status_code == 200
    assert response.json() == {
        "username": user.username,
        "name": "Grace Hopper",
        "admin": False,
        "status": status.value,
    }


async def test_me_strips_a_missing_name_part_and_shows_admins(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session, admin=True, first_name="", last_name="Hopper")
    body = (await api_client.get("/api/users/me/", headers=auth(key))).json()
    assert body["name"] == "Hopper"
    assert body["admin"] is True


@pytest.mark.parametrize("field", ["username", "first_name", "last_name"])
async def test_search_matches_each_field_case_insensitively(
    api_client: httpx.AsyncClient, session: AsyncSession, field: str
) -> None:
    marker = _marker()
    _, key = await create_user(session)
    fields: dict[str, Any] = {field: f"X{marker.upper()}y"}
    found, _ = await create_user(session, **fields)
    response = await api_client.get(
        "/api/users/search/", params={"username": marker.lower()}, headers=auth(key)
    )
    assert response.status_code == 200
    assert response.json() == [
        {
            "username": found.username,
            "name": f"{found.first_name} {found.last_name}".strip(),
            "admin": False,
            "status": "APPROVED",
        }
    ]


async def test_search_skips_unapproved_and_inactive_users(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    marker = _marker()
    _, key = await create_user(session)
    approved, _ = await create_user(session, first_name=marker)
    for status in UNAPPROVED:
        await create_user(session, status=status, first_name=marker)
    await create_user(session, first_name=marker, is_active=False)
    body = (
        await api_client.get("/api/users/search/", params={"username": marker}, headers=auth(key))
    ).json()
    assert [user["username"] for user in body] == [approved.username]


async def test_search_returns_at_most_ten(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    marker = _marker()
    _, key = await create_user(session)
    for _ in range(12):
        await create_user(session, last_name=marker)
    body = (
        await api_client.get("/api/users/search/", params={"username": marker}, headers=auth(key))
    ).json()
    assert len(body) == 10
    assert all(user["name"].endswith(marker) for user in body)


@pytest.mark.parametrize("params", [{}, {"username": ""}, {"username": "   "}])
async def test_search_without_a_query_is_empty(
    api_client: httpx.AsyncClient, session: AsyncSession, params: dict[str, str]
) -> None:
    _, key = await create_user(session)
    await create_user(session)
    response = await api_client.get("/api/users/search/", params=params, headers=auth(key))
    assert response.status_code == 200
    assert response.json() == []


async def test_search_wildcards_are_literal(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    await create_user(session, first_name="Plain")
    for query in ["%", "_"]:
        response = await api_client.get(
            "/api/users/search/", params={"username": query}, headers=auth(key)
        )
        assert all(query in f"{u['username']}{u['name']}" for u in response.json())


@pytest.mark.parametrize("status", UNAPPROVED)
async def test_search_needs_an_approved_user(
    api_client: httpx.AsyncClient, session: AsyncSession, status: UserStatus
) -> None:
    _, key = await create_user(session, status=status)
    response = await api_client.get(
        "/api/users/search/", params={"username": "a"}, headers=auth(key)
    )
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_admins_list_sorted_usernames(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    marker = _marker()
    admin, key = await create_user(session, admin=True, username=f"m-{marker}")
    approved, _ = await create_user(session, username=f"z-{marker}")
    pending, _ = await create_user(session, status=UserStatus.PENDING, username=f"a-{marker}")

    everyone = (await api_client.get("/api/users/", headers=auth(key))).json()
    assert everyone == sorted(everyone)
    assert {admin.username, approved.username, pending.username} <= set(everyone)

    response = await api_client.get(
        "/api/users/", params={"approved_only": "true"}, headers=auth(key)
    )
    assert response.status_code == 200
    only_approved = response.json()
    assert only_approved == sorted(only_approved)
    assert approved.username in only_approved
    assert pending.username not in only_approved
    assert set(only_approved) < set(everyone)


async def test_the_user_list_is_for_admins_only(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    response = await api_client.get("/api/users/", headers=auth(key))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_a_session_token_is_the_same_caller_as_the_api_key(
    api_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user, key = await create_user(session, first_name="Grace", last_name="Hopper")
    token = await start_session(session, user, settings=settings.auth)
    by_key = await api_client.get("/api/users/me/", headers=auth(key))
    by_session = await api_client.get("/api/users/me/", headers=bearer(token))
    assert by_key.status_code == by_session.status_code == 200
    assert by_session.json() == by_key.json()
    assert by_session.json()["username"] == user.username


async def test_a_signed_in_browser_can_rotate_the_api_key(
    api_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """The API key page's way: the key was never shown to the session, so it makes a new one."""
    user, old_key = await create_user(session)
    token = await start_session(session, user, settings=settings.auth)
    # Only a digest is stored: the key cannot be read back without presenting it.
    assert (await api_client.get("/api/auth/token/", headers=bearer(token))).status_code == 404
    response = await api_client.post("/api/auth/token/", headers=bearer(token))
    assert response.status_code == 200
    new_key = response.json()
    assert (await api_client.get("/api/users/me/", headers=auth(new_key))).status_code == 200
    assert (await api_client.get("/api/users/me/", headers=auth(old_key))).status_code == 401


@pytest.mark.parametrize("token", ["", "unknown", "ended"])
async def test_no_live_session_is_anonymous_on_me(
    api_client: httpx.AsyncClient, session: AsyncSession, settings: Settings, token: str
) -> None:
    if token == "ended":
        user, _ = await create_user(session)
        token = await start_session(session, user, settings=settings.auth)
        await end_sessions(session, user.id)
    response = await api_client.get("/api/users/me/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
