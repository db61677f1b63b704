"""Queueing a message: once per dedupe_key, and its job asked for only after the commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dandelion_common.db.enums import MailKind
from dandelion_common.db.models import OutgoingMail
from dandelion_common.jobs import JobQueue, flush_committed_jobs
from dandelion_common.mail import queue_mail


async def queue(session: AsyncSession, key: str, *, body: str = "Welcome") -> int | None:
    return await queue_mail(
        session,
        kind=MailKind.APPROVED,
        recipient="ada@example.org",
        subject="Your account is approved",
        body=body,
        dedupe_key=key,
    )


async def test_the_same_dedupe_key_is_queued_once(session: AsyncSession) -> None:
    first = await queue(session, "approved:1")
    second = await queue(session, "approved:1", body="a second copy")
    other = await queue(session, "approved:2")

    assert first is not None
    assert other is not None
    assert first != other
    assert second is None
    rows = await session.scalars(select(OutgoingMail).where(OutgoingMail.id == first))
    row = rows.one()
    assert (row.body, row.kind, row.sent_at, row.attempts) == (
        "Welcome",
        MailKind.APPROVED,
        None,
        0,
    )


@pytest.fixture
async def real_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits are real (the job buffer reacts to the outermost commit)."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
        await session.execute(
            delete(OutgoingMail).where(OutgoingMail.dedupe_key.like("test_outbox:%"))
        )
        await session.commit()


async def test_the_job_is_asked_for_after_the_commit_only(
    real_session: AsyncSession, job_queue: JobQueue
) -> None:
    await queue(real_session, "test_outbox:rolled-back")
    await real_session.rollback()
    assert await flush_committed_jobs(real_session, job_queue) == 0

    mail_id = await queue(real_session, "test_outbox:committed")
    assert await flush_committed_jobs(real_session, job_queue) == 0  # nothing before commit
    await real_session.commit()
    assert await flush_committed_jobs(real_session, job_queue) == 1
    assert await queue(real_session, "test_outbox:committed") is None
    await real_session.commit()
    assert await flush_committed_jobs(real_session, job_queue) == 0  # a duplicate asks nothing
    count = select(func.count()).select_from(OutgoingMail)
    assert await real_session.scalar(count.where(OutgoingMail.id == mail_id)) == 1
