"""zarr archives

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 16:00:00

Zarr archives, the immutable snapshots each ingest makes of one (their files as S3 object
versions), and zarr assets (an asset holds a blob or a zarr, never both).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("Pending", "Uploaded", "Ingesting", "Complete")


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "zarr_archives",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dandiset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("status", sa.Enum(*STATUSES, name="zarr_status", native_enum=False,
                                    create_constraint=True, length=32),
                  server_default="Pending", nullable=False),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.Column("file_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("snapshot_id", sa.Uuid(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(["dandiset_id"], ["dandisets.id"], ondelete="CASCADE",
                                name=op.f("fk_zarr_archives_dandiset_id_dandisets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zarr_archives")),
        sa.UniqueConstraint("dandiset_id", "name", name=op.f("uq_zarr_archives_dandiset_id_name")),
    )  # fmt: skip
    op.create_index(op.f("ix_zarr_archives_dandiset_id"), "zarr_archives", ["dandiset_id"])
    op.create_table(
        "zarr_snapshots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zarr_id", sa.Uuid(), nullable=False),
        sa.Column("checksum", sa.String(length=128), nullable=False),
        sa.Column("file_count", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(["zarr_id"], ["zarr_archives.id"], ondelete="RESTRICT",
                                name=op.f("fk_zarr_snapshots_zarr_id_zarr_archives")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zarr_snapshots")),
    )  # fmt: skip
    op.create_index(op.f("ix_zarr_snapshots_zarr_id"), "zarr_snapshots", ["zarr_id"])
    op.create_foreign_key(
        op.f("fk_zarr_archives_snapshot_id_zarr_snapshots"),
        "zarr_archives",
        "zarr_snapshots",
        ["snapshot_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_table(
        "zarr_snapshot_entries",
        sa.Column("snapshot_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.Text(collation="C"), nullable=False),
        sa.Column("s3_version_id", sa.String(length=1024), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["zarr_snapshots.id"], ondelete="CASCADE",
                                name=op.f("fk_zarr_snapshot_entries_snapshot_id_zarr_snapshots")),
        sa.PrimaryKeyConstraint("snapshot_id", "path", name=op.f("pk_zarr_snapshot_entries")),
    )  # fmt: skip
    op.add_column("assets", sa.Column("zarr_id", sa.Uuid(), nullable=True))
    op.add_column("assets", sa.Column("zarr_snapshot_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_assets_zarr_id_zarr_archives"),
        "assets",
        "zarr_archives",
        ["zarr_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("fk_assets_zarr_snapshot_id_zarr_snapshots"),
        "assets",
        "zarr_snapshots",
        ["zarr_snapshot_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index(op.f("ix_assets_zarr_id"), "assets", ["zarr_id"])
    op.create_index(op.f("ix_assets_zarr_snapshot_id"), "assets", ["zarr_snapshot_id"])
    op.create_check_constraint(
        op.f("ck_assets_blob_or_zarr"), "assets", "(blob_id IS NULL) <> (zarr_id IS NULL)"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_assets_blob_or_zarr"), "assets", type_="check")
    op.drop_index(op.f("ix_assets_zarr_snapshot_id"), table_name="assets")
    op.drop_index(op.f("ix_assets_zarr_id"), table_name="assets")
    op.drop_constraint(op.f("fk_assets_zarr_snapshot_id_zarr_snapshots"), "assets")
    op.drop_constraint(op.f("fk_assets_zarr_id_zarr_archives"), "assets")
    op.drop_column("assets", "zarr_snapshot_id")
    op.drop_column("assets", "zarr_id")
    op.drop_table("zarr_snapshot_entries")
    op.drop_constraint(op.f("fk_zarr_archives_snapshot_id_zarr_snapshots"), "zarr_archives")
    op.drop_index(op.f("ix_zarr_snapshots_zarr_id"), table_name="zarr_snapshots")
    op.drop_table("zarr_snapshots")
    op.drop_index(op.f("ix_zarr_archives_dandiset_id"), table_name="zarr_archives")
    op.drop_table("zarr_archives")
