"""`send_mail`: deliver one `outgoing_mail` row, at most once as far as we can make it.

A run takes three steps, each its own transaction, and none is held across the SMTP
conversation:

1. Claim: `sent_at` still null and no live lease, then set `lease_until` (now plus ten
   command timeouts, longer than any conversation smtplib can hold) and count the attempt.
   A sent row makes the run a no-op (idempotent: arq may run a job twice, a caller may ask
   again); a live lease means another run is sending it, and this one comes back after the
   lease, to find it sent or to take over from a run that died.
2. Send over SMTP, outside any transaction.
3. Mark `sent_at` (the server accepted the message), clearing the lease and the error. On a
   failure worth retrying (server down, 4xx) the error is recorded, the lease released and
   arq's `Retry` asked for with backoff; a refusal (5xx) is recorded and not retried.

What remains: a crash (or a lost database) after the server accepted the message and before
step 3 committed leaves the row unsent, and the next run after the lease sends it again. SMTP
has no idempotency key to close that gap; the window is one UPDATE long, and the message's
Message-ID is fixed by the row, so a duplicate carries the same id as the first copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import Retry
from sqlalchemy import func, or_, select, update

from dandelion_common.db.models import OutgoingMail
from dandelion_common.jobs.contracts import SEND_MAIL, MailRef
from dandelion_common.jobs.resources import WorkerResources, worker_resources
from dandelion_common.jobs.worker import Context, handler, job_session, retry_delay
from dandelion_common.mail.smtp import (
    MailRejected,
    MailUnavailable,
    build_message,
    connection_for,
    deliver,
)

logger = logging.getLogger("dandelion.mail")
LEASE_TIMEOUTS = 10  # a lease lasts this many command timeouts


@dataclass(frozen=True)
class Claimed:
    recipient: str
    subject: str
    body: str


async def _claim(ctx: Context, mail_id: int, lease: timedelta) -> Claimed | str | timedelta:
    """The row once leased to this run; else why not (a str), or how long another run's
    lease has to go."""
    async with job_session(ctx) as session:
        claimed = await session.execute(
            update(OutgoingMail)
            .where(
                OutgoingMail.id == mail_id,
                OutgoingMail.sent_at.is_(None),
                or_(OutgoingMail.lease_until.is_(None), OutgoingMail.lease_until < func.now()),
            )
            .values(lease_until=func.now() + lease, attempts=OutgoingMail.attempts + 1)
            .returning(OutgoingMail.recipient, OutgoingMail.subject, OutgoingMail.body)
        )
        row = claimed.one_or_none()
        if row is not None:
            return Claimed(row.recipient, row.subject, row.body)
        query = select(OutgoingMail.sent_at, OutgoingMail.lease_until, func.now())
        found = (await session.execute(query.where(OutgoingMail.id == mail_id))).one_or_none()
    if found is None:
        return "unknown mail"
    sent_at, lease_until, now = found
    if sent_at is not None:
        return "already sent"
    if lease_until is None:  # another run failed and let go meanwhile: come back at once
        return timedelta(0)
    left: timedelta = lease_until - now
    return left


async def _record(ctx: Context, mail_id: int, **values: Any) -> None:
    async with job_session(ctx) as session:
        await session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == mail_id)
            .values(lease_until=None, **values)
        )


@handler(SEND_MAIL)
async def send_mail(ctx: Context, payload: MailRef) -> str:
    """Claim the row, send it over SMTP outside any transaction, then mark it sent."""
    settings = worker_resources(ctx, WorkerResources).settings.mail
    if not settings.sending:
        return "mail is disabled"  # the row waits; a later run once mail is on sends it
    connection = connection_for(settings)
    claim = await _claim(
        ctx, payload.mail_id, timedelta(seconds=connection.timeout * LEASE_TIMEOUTS)
    )
    if isinstance(claim, str):
        return claim
    if isinstance(claim, timedelta):
        raise Retry(defer=max(1.0, claim.total_seconds()))
    message = build_message(
        sender=settings.sender,
        recipient=claim.recipient,
        subject=claim.subject,
        body=claim.body,
        mail_id=payload.mail_id,
    )
    try:
        await deliver(connection, message)
    except MailUnavailable as exc:
        await _record(ctx, payload.mail_id, last_error=str(exc))
        delay = retry_delay(ctx.get("job_try", 1))
        logger.warning("mail %s not sent, retried in %s s: %s", payload.mail_id, delay, exc)
        raise Retry(defer=delay) from exc
    except MailRejected as exc:
        await _record(ctx, payload.mail_id, last_error=str(exc))
        logger.warning("mail refused", extra={"mail_id": payload.mail_id, "error": str(exc)})
        return f"refused: {exc}"
    await _record(ctx, payload.mail_id, sent_at=datetime.now(UTC), last_error=None)
    return "sent"
