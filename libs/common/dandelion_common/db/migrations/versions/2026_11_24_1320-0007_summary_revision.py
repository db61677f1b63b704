"""summary revision

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 13:20:00

A draft's asset-set revision and the revision its stored assetsSummary was computed at: a
publish reuses a current summary instead of aggregating every asset again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "versions",
        sa.Column("assets_revision", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column("versions", sa.Column("summary_revision", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("versions", "summary_revision")
    op.drop_column("versions", "assets_revision")
