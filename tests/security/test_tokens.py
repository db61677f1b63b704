"""API keys are stored only as SHA-256 digests and looked up by digest.

The lookup is an indexed equality on the digest of the presented key: no stored secret is
ever compared with what a caller sends, so there is no comparison whose timing could leak a
key (and a digest's timing says nothing usable about the key behind it). These tests fail if
a key reaches the database, the SQL sent to it, or the logs in plain text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import auth
from factories import create_user
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dandelion_api.users.service import replace_api_key
from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.db.models import ApiToken


async def tables_holding(session: AsyncSession, secret: str) -> list[str]:
    """Every table with a row whose text form contains `secret`."""
    names = await session.scalars(
        text(
            "SELECT quote_ident(table_name) FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    )
    found = []
    for name in names.all():
        # `name` comes from the catalog, quoted by quote_ident.
        query = text(f"SELECT count(*) FROM {name} AS r WHERE strpos(r::text, :secret) > 0")
        if await session.scalar(query, {"secret": secret}):
            found.append(name)
    return found


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL and parameters the test's code sends to PostgreSQL."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine.sync_engine, "before_cursor_execute", record)


def test_keys_are_random_and_hashed_with_sha256() -> None:
    key = generate_api_key()
    assert len(key) == 40
    assert int(key, 16) >= 0  # hex, 160 bits, as DANDI's
    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest() != key
    assert len({generate_api_key() for _ in range(1000)}) == 1000


async def test_a_rotated_key_is_stored_only_as_its_digest(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user, old = await create_user(session)
    response = await client.post("/api/auth/token/", headers=auth(old))
    assert response.status_code == 200, response.text
    new = response.json()
    stored = await session.scalar(select(ApiToken.key_hash).where(ApiToken.user_id == user.id))
    assert stored == hash_api_key(new)
    assert await tables_holding(session, new) == []
    # The new key works, the old one no longer does.
    assert (await client.get("/api/users/me/", headers=auth(new))).status_code == 200
    assert (await client.get("/api/users/me/", headers=auth(old))).status_code == 401


async def test_a_key_made_by_the_operators_command_is_stored_only_as_its_digest(
    session: AsyncSession,
) -> None:
    user, _ = await create_user(session)
    key = await replace_api_key(session, username=user.username)
    await session.flush()
    assert await tables_holding(session, key) == []
    assert await tables_holding(session, hash_api_key(key)) == ["api_tokens"]


async def test_the_database_sees_the_digest_of_a_presented_key_never_the_key(
    client: httpx.AsyncClient,
    session: AsyncSession,
    statements: list[tuple[str, Any]],
) -> None:
    _, key = await create_user(session)
    statements.clear()
    response = await client.get("/api/users/me/", headers=auth(key))
    assert response.status_code == 200, response.text
    wrong = await client.get("/api/users/me/", headers=auth(generate_api_key()))
    assert wrong.status_code == 401
    sent = repr(statements)
    assert key not in sent
    assert hash_api_key(key) in sent


async def test_keys_never_reach_the_logs(
    client: httpx.AsyncClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    _, key = await create_user(session)
    caplog.set_level(logging.DEBUG)
    for method, url in (("GET", "/api/users/me/"), ("POST", "/api/auth/token/")):
        response = await client.request(method, url, headers=auth(key))
        assert response.status_code == 200, response.text
    new = response.json()
    await client.get("/api/users/me/", headers=auth(key))  # the old key: a 401, logged
    logged = " ".join(repr(record.__dict__) for record in caplog.records)
    assert caplog.records  # the request logs are there to be searched
    assert key not in logged
    assert new not in logged
