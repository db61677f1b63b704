"""embargoed blobs belong to their dandiset

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 19:10:00

Equal bytes uploaded to two dandisets, one of them embargoed, were one blob: the second
upload's dedup answer named the embargoed blob, which its dandiset may not use, so the file
could not be uploaded at all. Blobs uploaded embargoed now record their dandiset and are
unique per dandiset; open blobs stay unique by content. Needs PostgreSQL 15 (NULLS NOT
DISTINCT).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An embargoed blob's dandiset is the one whose versions hold it (one, by the join rule).
BACKFILL = """
UPDATE asset_blobs AS blob SET dandiset_id = held.dandiset_id
FROM (
    SELECT DISTINCT ON (asset.blob_id) asset.blob_id, version.dandiset_id
    FROM assets AS asset
    JOIN version_assets ON version_assets.asset_id = asset.id
    JOIN versions AS version ON version.id = version_assets.version_id
    WHERE asset.blob_id IS NOT NULL
    ORDER BY asset.blob_id, version.dandiset_id
) AS held
WHERE blob.embargoed AND held.blob_id = blob.id
"""


def upgrade() -> None:
    op.add_column("asset_blobs", sa.Column("dandiset_id", sa.Integer(), nullable=True))
    op.execute(BACKFILL)
    op.drop_constraint("uq_asset_blobs_etag_size", "asset_blobs", type_="unique")
    op.create_unique_constraint(
        "uq_asset_blobs_etag_size_dandiset_id",
        "asset_blobs",
        ["etag", "size", "dandiset_id"],
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    # Fails while equal bytes are blobs in two dandisets: the old schema cannot hold that.
    op.drop_constraint("uq_asset_blobs_etag_size_dandiset_id", "asset_blobs", type_="unique")
    op.create_unique_constraint("uq_asset_blobs_etag_size", "asset_blobs", ["etag", "size"])
    op.drop_column("asset_blobs", "dandiset_id")
