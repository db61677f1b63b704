"""zarr version collection

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 17:00:00

When garbage collection last removed a zarr archive's object versions that no snapshot names.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "zarr_archives",
        sa.Column("versions_collected", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("zarr_archives", "versions_collected")
