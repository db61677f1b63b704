"""outgoing mail

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:00:00

`outgoing_mail`: a row per email, queued in the transaction that decides to send it and
sent by the doi worker's `send_mail` job; `dedupe_key` unique so a message is queued once.
New and empty: nothing to backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("registration_received", "approved", "rejected", "new_user_waiting")


def upgrade() -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="mail_kind", native_enum=False,
                                  create_constraint=True, length=32), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outgoing_mail_dedupe_key")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("outgoing_mail")
