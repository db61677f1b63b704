"""Browser sessions: the one writer of `browser_sessions` (start, look up and touch, end).

A session is an opaque random token (32 bytes, URL-safe) that the web service keeps in its
cookie and sends the API as `Authorization: Bearer <token>`. Only its SHA-256 is stored, as
for API keys: 256 random bits need no salt nor slow hash, and a leaked table signs nobody in.

Expiry is checked in the lookup's own query, against the database's clock (the one that
wrote `last_seen`): a session ends `auth.session_absolute_days` after it started, fixed in
`expires_at`, or `auth.session_idle_minutes` after its last use, read from the settings on
each lookup so that a shorter limit applies at once. Ended and expired sessions, and those
of a user who is inactive or REJECTED, find no user: the caller is anonymous, exactly as for
an unknown token. Expired rows stay until their user signs in again (`start_session` clears
them); those of a user who never returns stay too, harmless (they match nothing) until a
sweep removes them (not yet written: `dandelion gc` is the place).

`last_seen` is written at most once a minute (LAST_SEEN_RESOLUTION), so a page's many API
requests read and do not write. That write skips a row another request has locked (touching
it in its own uncommitted transaction): two parallel requests never wait on each other for
a timestamp that one of them is writing anyway.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import Interval, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import BrowserSession, User
from dandelion_common.settings import AuthSettings

TOKEN_BYTES = 32
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _idle_limit(settings: AuthSettings) -> timedelta:
    return timedelta(minutes=settings.session_idle_minutes)


async def start_session(session: AsyncSession, user: User, *, settings: AuthSettings) -> str:
    """A new session for `user`; returns its token, which is stored nowhere but the cookie.

    Always a fresh token (never one the browser brought along), so a token planted in a
    browser before sign-in is worth nothing after it.
    """
    now = func.now()
    await session.execute(
        delete(BrowserSession).where(
            BrowserSession.user_id == user.id,
            or_(
                BrowserSession.expires_at <= now,
                BrowserSession.last_seen <= now - _idle_limit(settings),
            ),
        )
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        BrowserSession(
            user_id=user.id,
            token_digest=token_digest(token),
            expires_at=now + timedelta(days=settings.session_absolute_days),
        )
    )
    await session.flush()
    return token


# Built once: building this select per request cost more than running it (0.4 ms of 1.5 ms
# per request, in-process); the idle limit is a parameter, so a changed setting applies.
_LOOKUP = (
    select(
        User,
        BrowserSession.id,
        (BrowserSession.last_seen < func.now() - LAST_SEEN_RESOLUTION).label("stale"),
    )
    .join(BrowserSession, BrowserSession.user_id == User.id)
    .where(
        BrowserSession.token_digest == bindparam("digest"),
        BrowserSession.expires_at > func.now(),
        BrowserSession.last_seen > func.now() - bindparam("idle", type_=Interval),
    )
)


async def session_user(session: AsyncSession, token: str, *, settings: AuthSettings) -> User | None:
    """The user signed in by `token`, or None when it is unknown, ended or expired, or its
    user may not use the archive (inactive or REJECTED). Touches `last_seen` when stale."""
    parameters = {"digest": token_digest(token), "idle": _idle_limit(settings)}
    row = (await session.execute(_LOOKUP, parameters)).one_or_none()
    if row is None:
        return None
    user, session_id, stale = row
    if not user.is_active or user.status is UserStatus.REJECTED:
        return None
    if stale:
        await _touch(session, session_id)
    return user


async def _touch(session: AsyncSession, session_id: int) -> None:
    # SKIP LOCKED: a parallel request of this session already touches it (see the docstring).
    unlocked = (
        select(BrowserSession.id)
        .where(BrowserSession.id == session_id)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await session.execute(
        update(BrowserSession)
        .where(BrowserSession.id == unlocked)
        .values(last_seen=func.now())
        .execution_options(synchronize_session=False)
    )


async def end_session(session: AsyncSession, token: str) -> bool:
    """Sign out this browser; False if the token named no session (already ended)."""
    result = await session.execute(
        delete(BrowserSession)
        .where(BrowserSession.token_digest == token_digest(token))
        .returning(BrowserSession.id)
    )
    return result.first() is not None


async def end_sessions(session: AsyncSession, user_id: int) -> int:
    """Sign the user out everywhere (sign-out everywhere, deactivation, rejection); returns
    how many sessions ended."""
    result = await session.execute(
        delete(BrowserSession).where(BrowserSession.user_id == user_id).returning(BrowserSession.id)
    )
    return len(result.all())
