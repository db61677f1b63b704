"""`send_mail` against a real SMTP server: sent once, idempotent, retried while the server
is down, a refusal recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from arq import Retry
from common.mail.smtp_server import SmtpServer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import MailKind
from dandelion_common.db.models import OutgoingMail
from dandelion_common.db.session import Database
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.resources import WorkerResources, job_context
from dandelion_common.mail import queue_mail
from dandelion_common.mail.job import send_mail
from dandelion_common.settings import MailSettings, Settings

HOUR = timedelta(hours=1)


@pytest.fixture
def ctx(mail_settings: Settings, db: Database, job_queue: JobQueue) -> dict[str, Any]:
    return job_context(WorkerResources(settings=mail_settings, db=db, queue=job_queue))


async def queued(session: AsyncSession, recipient: str = "ada@example.org") -> int:
    mail_id = await queue_mail(
        session,
        kind=MailKind.REGISTRATION_RECEIVED,
        recipient=recipient,
        subject="We received your registration",
        body="Hello Ada,\n\nan admin will look at your answers soon.\n",
        dedupe_key=f"registration_received:{recipient}",
    )
    assert mail_id is not None
    await session.flush()
    return mail_id


async def send(ctx: dict[str, Any], mail_id: int) -> str:
    result: str = await send_mail.coroutine(ctx, mail_id=mail_id)
    return result


async def row(session: AsyncSession, mail_id: int) -> OutgoingMail:
    found = await session.get(OutgoingMail, mail_id, populate_existing=True)
    assert found is not None
    return found


async def test_a_queued_mail_is_sent_once_with_its_text(
    ctx: dict[str, Any], session: AsyncSession, smtp_server: SmtpServer
) -> None:
    mail_id = await queued(session)

    assert await send(ctx, mail_id) == "sent"
    assert await send(ctx, mail_id) == "already sent"  # a second run sends nothing

    [message] = smtp_server.inbox.messages
    assert smtp_server.inbox.recipients == [["ada@example.org"]]
    assert message["From"] == "Dandelion <noreply@dandelion.test>"
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "We received your registration"
    assert message["Message-ID"] == f"<outgoing-mail-{mail_id}@dandelion.test>"
    assert "an admin will look at your answers soon." in message.get_payload()
    sent = await row(session, mail_id)
    assert sent.sent_at is not None
    assert (sent.attempts, sent.last_error, sent.lease_until) == (1, None, None)


async def test_a_server_outage_is_recorded_and_retried_until_it_is_back(
    ctx: dict[str, Any], session: AsyncSession, smtp_server: SmtpServer
) -> None:
    mail_id = await queued(session)
    smtp_server.stop()

    with pytest.raises(Retry):
        await send(ctx, mail_id)
    failed = await row(session, mail_id)
    assert failed.sent_at is None
    assert failed.lease_until is None
    assert failed.attempts == 1
    assert failed.last_error
    assert "ConnectionRefused" in failed.last_error
    assert smtp_server.inbox.messages == []

    smtp_server.start()
    assert await send(ctx, mail_id) == "sent"
    assert len(smtp_server.inbox.messages) == 1
    sent = await row(session, mail_id)
    assert (sent.attempts, sent.last_error) == (2, None)


async def test_a_run_finding_another_runs_lease_comes_back_after_it(
    ctx: dict[str, Any], session: AsyncSession, smtp_server: SmtpServer
) -> None:
    mail_id = await queued(session)
    lease = update(OutgoingMail).where(OutgoingMail.id == mail_id)
    await session.execute(lease.values(lease_until=OutgoingMail.created + HOUR))
    await session.flush()

    with pytest.raises(Retry):
        await send(ctx, mail_id)
    assert smtp_server.inbox.messages == []

    # The holder died: its lease ran out, and the next run takes the row over.
    await session.execute(lease.values(lease_until=OutgoingMail.created - HOUR))
    await session.flush()
    assert await send(ctx, mail_id) == "sent"
    assert len(smtp_server.inbox.messages) == 1


async def test_a_refused_recipient_is_recorded_and_not_retried(
    ctx: dict[str, Any], session: AsyncSession, smtp_server: SmtpServer
) -> None:
    smtp_server.inbox.refuse.add("gone@example.org")
    mail_id = await queued(session, recipient="gone@example.org")

    result = await send(ctx, mail_id)

    assert result.startswith("refused")
    refused = await row(session, mail_id)
    assert refused.sent_at is None
    assert refused.lease_until is None
    assert refused.last_error
    assert "550" in refused.last_error
    assert smtp_server.inbox.messages == []


async def test_disabled_mail_sends_nothing(
    mail_settings: Settings,
    db: Database,
    job_queue: JobQueue,
    session: AsyncSession,
    smtp_server: SmtpServer,
) -> None:
    mail = MailSettings.model_validate({**mail_settings.mail.model_dump(), "enabled": False})
    off = job_context(
        WorkerResources(
            settings=mail_settings.model_copy(update={"mail": mail}), db=db, queue=job_queue
        )
    )
    mail_id = await queued(session)

    assert await send(off, mail_id) == "mail is disabled"
    assert (await row(session, mail_id)).attempts == 0
    assert smtp_server.inbox.messages == []
