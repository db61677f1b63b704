"""dandiset tombstones

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:10:00

`dandiset_tombstones`: one row per deleted dandiset (its id, its draft's name, whether it was
embargoed, when it was deleted), written in the deletion's transaction, so that the web
answers 410 for a deleted dandiset's pages instead of 404. No foreign key: the row outlives
the dandiset. Dandisets deleted before this revision left none and nothing is backfilled:
their pages stay the 404s they were.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dandiset_tombstones",
        sa.Column("dandiset_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("embargoed", sa.Boolean(), nullable=False),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("dandiset_id", name=op.f("pk_dandiset_tombstones")),
    )


def downgrade() -> None:
    op.drop_table("dandiset_tombstones")
