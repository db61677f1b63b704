"""`dandelion users create` and `dandelion tokens create` against the test database.

The CLI commits for real, outside the test's rolled-back transaction, so each test deletes
the users it made.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import auth
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dandelion_common.cli import main
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import User
from dandelion_common.settings import Settings, get_settings


@pytest.fixture
def cli_env(settings: Settings) -> Iterator[dict[str, str]]:
    """The CLI reads its settings from the environment, and `get_settings` caches them."""
    get_settings.cache_clear()
    yield {"DANDELION_POSTGRES__URL": settings.postgres.url}
    get_settings.cache_clear()


@pytest.fixture
async def username(engine: AsyncEngine) -> AsyncIterator[str]:
    """A fresh username; the committed user (and, by cascade, its key) is deleted afterwards."""
    name = f"cli-{uuid.uuid4().hex[:10]}"
    yield name
    async with engine.begin() as conn:
        await conn.execute(delete(User).where(User.username == name))


async def _invoke(env: dict[str, str], *args: str) -> Result:
    # In a thread: the CLI runs its own event loop with asyncio.run.
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


async def _committed_user(engine: AsyncEngine, username: str) -> User | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(User).where(User.username == username))).one_or_none()
    return None if row is None else User(**row._asdict())


async def test_users_create_makes_an_approved_admin(
    cli_env: dict[str, str], engine: AsyncEngine, username: str
) -> None:
    result = await _invoke(
        cli_env,
        "users",
        "create",
        username,
        "--email",
        "ada@example.org",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--approve",
        "--admin",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"created user {username}")
    user = await _committed_user(engine, username)
    assert user is not None
    assert (user.email, user.first_name, user.last_name) == ("ada@example.org", "Ada", "Lovelace")
    assert user.status is UserStatus.APPROVED
    assert user.is_admin is True
    assert user.is_active is True


async def test_users_create_without_options_makes_an_incomplete_user(
    cli_env: dict[str, str], engine: AsyncEngine, username: str
) -> None:
    result = await _invoke(cli_env, "users", "create", username)
    assert result.exit_code == 0, result.output
    user = await _committed_user(engine, username)
    assert user is not None
    assert user.status is UserStatus.INCOMPLETE
    assert user.is_admin is False
    assert (user.email, user.first_name, user.last_name) == ("", "", "")


async def test_users_create_again_changes_only_the_options_given(
    cli_env: dict[str, str], engine: AsyncEngine, username: str
) -> None:
    first = await _invoke(
        cli_env, "users", "create", username, "--first-name", "Ada", "--approve", "--admin"
    )
    assert first.exit_code == 0, first.output
    again = await _invoke(cli_env, "users", "create", username, "--last-name", "Byron")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(f"updated user {username}")
    user = await _committed_user(engine, username)
    assert user is not None
    assert (user.first_name, user.last_name) == ("Ada", "Byron")
    assert user.status is UserStatus.APPROVED
    assert user.is_admin is True

    revoked = await _invoke(cli_env, "users", "create", username, "--no-admin")
    assert revoked.exit_code == 0, revoked.output
    user = await _committed_user(engine, username)
    assert user is not None
    assert user.is_admin is False


async def test_tokens_create_prints_a_working_key_and_replaces_the_old(
    cli_env: dict[str, str], api_client: httpx.AsyncClient, username: str
) -> None:
    created = await _invoke(cli_env, "users", "create", username, "--approve")
    assert created.exit_code == 0, created.output

    first = await _invoke(cli_env, "tokens", "create", username)
    assert first.exit_code == 0, first.output
    old_key = first.stdout.strip()
    assert len(old_key) == 40
    me = await api_client.get("/api/users/me/", headers=auth(old_key))
    assert me.status_code == 200
    assert me.json()["username"] == username

    second = await _invoke(cli_env, "tokens", "create", username)
    assert second.exit_code == 0, second.output
    new_key = second.stdout.strip()
    assert new_key != old_key
    assert (await api_client.get("/api/auth/token/", headers=auth(new_key))).json() == new_key
    old = await api_client.get("/api/users/me/", headers=auth(old_key))
    assert old.status_code == 401


async def test_tokens_create_for_an_unknown_user_fails(cli_env: dict[str, str]) -> None:
    result = await _invoke(cli_env, "tokens", "create", f"nobody-{uuid.uuid4().hex}")
    assert result.exit_code == 1
    assert "No user named" in result.stderr
    assert result.stdout == ""
