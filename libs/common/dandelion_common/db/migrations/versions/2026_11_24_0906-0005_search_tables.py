"""search tables

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:06:08.568628

The PostgreSQL search backend's two document tables (same columns and indexes), and the
worker's bookkeeping: reindex markers, entities touched during a reindex, and the embargo
state each dandiset was last indexed with.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT_TABLES = ("search_assets", "search_dandisets")
FACETS = (
    "species", "sex", "approach", "technique", "variable", "brain_region", "neurodata_type",
    "dandiset", "encoding_format",
)  # fmt: skip
BTREE = {"dandiset_id": ["dandiset_id"], "modified": ["modified", "id"],
         "size": ["size", "id"], "sort_name": ["sort_name", "id"]}  # fmt: skip


def _document_table(table: str) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Text(collation="C"), nullable=False),
        sa.Column("dandiset_id", sa.Integer(), nullable=False),
        sa.Column("embargoed", sa.Boolean(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("sort_name", sa.Text(collation="C"), nullable=False),
        sa.Column("size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search", postgresql.TSVECTOR(), nullable=False),
        *(
            sa.Column(f, postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False)
            for f in FACETS
        ),
        sa.Column("age_days_min", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("age_days_max", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("electrode_count_min", sa.Integer(), nullable=True),
        sa.Column("electrode_count_max", sa.Integer(), nullable=True),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    for column in ("search", *FACETS):
        op.create_index(f"ix_{table}_{column}", table, [column], postgresql_using="gin")
    for name, columns in BTREE.items():
        op.create_index(f"ix_{table}_{name}", table, columns)


def upgrade() -> None:
    for table in DOCUMENT_TABLES:
        _document_table(table)
    op.create_table(
        "search_indexed_dandisets",
        sa.Column("dandiset_id", sa.Integer(), nullable=False),
        sa.Column("embargoed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("dandiset_id", name=op.f("pk_search_indexed_dandisets")),
    )
    op.create_table(
        "search_rebuilds",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column(
            "started", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_search_rebuilds")),
    )
    op.create_table(
        "search_rebuild_touched",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kind"],
            ["search_rebuilds.kind"],
            name=op.f("fk_search_rebuild_touched_kind_search_rebuilds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "entity_id", name=op.f("pk_search_rebuild_touched")),
    )


def downgrade() -> None:
    op.drop_table("search_rebuild_touched")
    op.drop_table("search_rebuilds")
    op.drop_table("search_indexed_dandisets")
    for table in DOCUMENT_TABLES:
        op.drop_table(table)  # drops its indexes too
