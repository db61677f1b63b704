"""Outgoing email: a row per message, written by `dandelion_common.mail.outbox` in the
transaction that decides to send it, sent by the `send_mail` job after the commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from dandelion_common.db.base import Base, string_enum
from dandelion_common.db.enums import MailKind


class OutgoingMail(Base):
    """One message. `dedupe_key` is unique, so a message asked for twice is queued once;
    `sent_at` is set once the server took it, `lease_until` while a job is sending it."""

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[MailKind] = mapped_column(string_enum(MailKind, "mail_kind"))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A send in progress holds the row until then; a job finding it held waits, and one
    # finding it expired (its holder died) takes it over.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
