"""The one writer of new `outgoing_mail` rows."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import MailKind
from dandelion_common.db.models import OutgoingMail
from dandelion_common.jobs.buffer import enqueue_after_commit
from dandelion_common.jobs.contracts import SEND_MAIL, MailRef


async def queue_mail(
    session: AsyncSession,
    *,
    kind: MailKind,
    recipient: str,
    subject: str,
    body: str,
    dedupe_key: str,
) -> int | None:
    """Queue a message unless one with `dedupe_key` (e.g. f"{kind}:{user_id}") already was;
    returns the new row's id, or None for a duplicate.

    The `send_mail` job is asked for after the caller's transaction commits (never for a
    rolled-back one), so the caller only commits, at its usual commit point."""
    statement = (
        insert(OutgoingMail)
        .values(kind=kind, recipient=recipient, subject=subject, body=body, dedupe_key=dedupe_key)
        .on_conflict_do_nothing(index_elements=[OutgoingMail.dedupe_key])
        .returning(OutgoingMail.id)
    )
    mail_id = await session.scalar(statement)
    if mail_id is not None:
        enqueue_after_commit(session, SEND_MAIL, MailRef(mail_id=mail_id))
    return mail_id
