"""blobs record when they are ready for validation

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 09:00:00

`asset_blobs.ready_at`: when the blob had every fact validation reads, its SHA-256 and its
NWB extraction's outcome (extraction is tried on every blob). Validation is then asked for
once per asset, on that event or when an asset is created on a ready blob, instead of on
every fact. Blobs with both facts already are ready; the time they became so is not kept,
so the later of the two stands in for it. A partial index keeps the sweep over blobs still
being ingested small.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE asset_blobs AS blob SET ready_at = GREATEST(blob.modified, extract.extracted)
FROM blob_extracts AS extract
WHERE extract.blob_id = blob.id AND blob.sha256 IS NOT NULL AND blob.ready_at IS NULL
"""


def upgrade() -> None:
    op.add_column("asset_blobs", sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(BACKFILL)
    op.create_index(
        "ix_asset_blobs_unready",
        "asset_blobs",
        ["created"],
        postgresql_where=sa.text("ready_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_asset_blobs_unready", table_name="asset_blobs")
    op.drop_column("asset_blobs", "ready_at")
