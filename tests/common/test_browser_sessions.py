"""Browser sessions: start, look up with idle and absolute expiry, touch, end one, end all.

Expiry is tested by moving a row's timestamps into the past in the database, whose clock the
lookup reads: no clock is faked, and inside the test's transaction `now()` stands still.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from factories import create_user
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.browser_sessions import (
    end_session,
    end_sessions,
    session_user,
    start_session,
    token_digest,
)
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import BrowserSession
from dandelion_common.settings import AuthSettings

SETTINGS = AuthSettings(session_idle_minutes=60, session_absolute_days=30)


async def _row(session: AsyncSession, token: str) -> BrowserSession:
    row = await session.scalar(
        select(BrowserSession)
        .where(BrowserSession.token_digest == token_digest(token))
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def _set(session: AsyncSession, token: str, **values: object) -> None:
    await session.execute(
        update(BrowserSession)
        .where(BrowserSession.token_digest == token_digest(token))
        .values(**values)
    )


async def _now(session: AsyncSession) -> datetime:
    now: datetime | None = await session.scalar(select(func.now()))
    assert now is not None
    return now


async def test_a_started_session_signs_its_user_in(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    token = await start_session(session, user, settings=SETTINGS)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    found = await session_user(session, token, settings=SETTINGS)
    assert found is not None
    assert found.id == user.id
    row = await _row(session, token)
    assert row.token_digest == token_digest(token) != token
    assert row.expires_at == await _now(session) + timedelta(days=30)


async def test_each_start_is_a_fresh_token(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    first = await start_session(session, user, settings=SETTINGS)
    second = await start_session(session, user, settings=SETTINGS)
    assert first != second
    assert await session_user(session, first, settings=SETTINGS) is not None
    assert await session_user(session, second, settings=SETTINGS) is not None


async def test_an_unknown_token_finds_nobody(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    token = await start_session(session, user, settings=SETTINGS)
    assert await session_user(session, token[::-1], settings=SETTINGS) is None


@pytest.mark.parametrize(("idle_minutes", "alive"), [(59, True), (60, False), (61, False)])
async def test_idle_expiry(session: AsyncSession, idle_minutes: int, alive: bool) -> None:
    user, _ = await create_user(session)
    token = await start_session(session, user, settings=SETTINGS)
    await _set(session, token, last_seen=func.now() - timedelta(minutes=idle_minutes))
    assert (await session_user(session, token, settings=SETTINGS) is not None) is alive


async def test_a_longer_idle_limit_applies_to_existing_sessions(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    token = await start_session(session, user, settings=SETTINGS)
    await _set(session, token, last_seen=func.now() - timedelta(minutes=90))
    assert await session_user(session, token, settings=SETTINGS) is None
    longer = AuthSettings(session_idle_minutes=120)
    assert await session_user(session, token, settings=longer) is not None


@pytest.mark.parametrize(("seconds_left", "alive"), [(1, True), (0, False), (-1, False)])
async def test_absolute_expiry_however_recent_the_use(
    session: AsyncSession, seconds_left: int, alive: bool
) -> None:
    user, _ = await create_user(session)
    token = await start_session(session, user, settings=SETTINGS)
    await _set(session, token, expires_at=func.now() + timedelta(seconds=seconds_left))
    assert (await session_user(session, token, settings=SETTINGS) is not None) is alive


async def test_last_seen_is_touched_at_most_once_a_minute(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    token = await start_session(session, user, settings=SETTINGS)
    now = await _now(session)

    await _set(session, token, last_seen=func.now() - timedelta(seconds=50))
    assert await session_user(session, token, settings=SETTINGS) is not None
    assert (await _row(session, token)).last_seen == now - timedelta(seconds=50)

    await _set(session, token, last_seen=func.now() - timedelta(minutes=30))
    assert await session_user(session, token, settings=SETTINGS) is not None
    assert (await _row(session, token)).last_seen == now


async def test_ending_one_session_leaves_the_others(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    ended = await start_session(session, user, settings=SETTINGS)
    kept = await start_session(session, user, settings=SETTINGS)
    assert await end_session(session, ended)
    assert await session_user(session, ended, settings=SETTINGS) is None
    assert await session_user(session, kept, settings=SETTINGS) is not None
    assert not await end_session(session, ended)  # already ended


async def test_ending_every_session_of_a_user(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    other, _ = await create_user(session)
    tokens = [await start_session(session, user, settings=SETTINGS) for _ in range(2)]
    others = await start_session(session, other, settings=SETTINGS)
    assert await end_sessions(session, user.id) == 2
    for token in tokens:
        assert await session_user(session, token, settings=SETTINGS) is None
    assert await session_user(session, others, settings=SETTINGS) is not None
    assert await end_sessions(session, user.id) == 0


@pytest.mark.parametrize(
    "fields", [{"is_active": False}, {"status": UserStatus.REJECTED}], ids=["inactive", "rejected"]
)
async def test_a_user_not_allowed_in_has_no_session(
    session: AsyncSession, fields: dict[str, Any]
) -> None:
    user, _ = await create_user(session, **fields)
    token = await start_session(session, user, settings=SETTINGS)
    assert await session_user(session, token, settings=SETTINGS) is None


@pytest.mark.parametrize("status", [UserStatus.INCOMPLETE, UserStatus.PENDING])
async def test_unapproved_users_keep_their_sessions(
    session: AsyncSession, status: UserStatus
) -> None:
    """They must sign in to answer the questionnaire or see that they are pending."""
    user, _ = await create_user(session, status=status)
    token = await start_session(session, user, settings=SETTINGS)
    assert await session_user(session, token, settings=SETTINGS) is not None


async def test_signing_in_clears_the_users_expired_sessions(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    idle = await start_session(session, user, settings=SETTINGS)
    old = await start_session(session, user, settings=SETTINGS)
    live = await start_session(session, user, settings=SETTINGS)
    await _set(session, idle, last_seen=func.now() - timedelta(hours=2))
    await _set(session, old, expires_at=func.now() - timedelta(seconds=1))
    await start_session(session, user, settings=SETTINGS)
    digests = set(
        await session.scalars(
            select(BrowserSession.token_digest).where(BrowserSession.user_id == user.id)
        )
    )
    assert token_digest(idle) not in digests
    assert token_digest(old) not in digests
    assert token_digest(live) in digests
    assert len(digests) == 2
