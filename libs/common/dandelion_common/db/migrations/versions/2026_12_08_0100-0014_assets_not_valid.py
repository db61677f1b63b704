"""a partial index of the assets that are not valid

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 01:00:00

A draft's validation summary (`/versions/draft/info/`, the web's landing page and file
browser) lists assets still pending, validating or invalid. It joined every asset of the
version to find them: 110-700 ms at 100,000 assets (bench_web). Valid assets are nearly all
of them, so an index of the others is small and the join starts from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_assets_not_valid",
        "assets",
        ["id"],
        postgresql_where=sa.text("status IN ('Pending', 'Validating', 'Invalid')"),
    )


def downgrade() -> None:
    op.drop_index("ix_assets_not_valid", table_name="assets")
