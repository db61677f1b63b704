"""publish and dois

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 12:40:00

The draft's release notes (kept while a publish is in progress), and the DOIs the doi worker
keeps in step with DataCite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TARGETS = ("draft", "findable", "hidden", "deleted")
STATES = ("pending", "draft", "registered", "findable", "deleted", "failed")


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column("versions", sa.Column("release_notes", sa.Text(), nullable=True))
    op.create_table(
        "dois",
        sa.Column("doi", sa.Text(), nullable=False),
        sa.Column("dandiset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=True),
        sa.Column("target", sa.Enum(*TARGETS, name="doi_target", native_enum=False,
                                    create_constraint=True, length=32), nullable=False),
        sa.Column("state", sa.Enum(*STATES, name="doi_state", native_enum=False,
                                   create_constraint=True, length=32),
                  server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_status", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("synced", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("doi", name=op.f("pk_dois")),
    )  # fmt: skip
    op.create_index(op.f("ix_dois_dandiset_id"), "dois", ["dandiset_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dois_dandiset_id"), table_name="dois")
    op.drop_table("dois")
    op.drop_column("versions", "release_notes")
