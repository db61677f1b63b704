"""publish and unembargo requests

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 19:00:00

Who asked for a draft's publish or a dandiset's unembargo, and when, so that the ingest
reconcile can send a job lost with Redis again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {"versions": "publish", "dandisets": "unembargo"}


def upgrade() -> None:
    for table, action in COLUMNS.items():
        op.add_column(table, sa.Column(f"{action}_requested_by", sa.Integer(), nullable=True))
        op.add_column(
            table,
            sa.Column(f"{action}_requested_at", sa.DateTime(timezone=True), nullable=True),
        )


def downgrade() -> None:
    for table, action in COLUMNS.items():
        op.drop_column(table, f"{action}_requested_at")
        op.drop_column(table, f"{action}_requested_by")
