"""versions keep their search text behind a trigram index

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 12:00:00

`versions.search_text`: what `?search=` on the dandiset list matches words in, the version's
metadata with its name and version string (a draft keeps those in columns), accents folded
and lowercased. It is a stored generated column, so PostgreSQL backfills it as it adds the
column and keeps it current on every write, and a GIN trigram index answers
`LIKE '%word%'` without reading every document. `pg_trgm` ships with PostgreSQL (contrib) and is a trusted extension: the
database's owner may create it without being a superuser.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as the model had it: Unicode's combining-mark blocks, dropped after NFKD.
MARKS = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
SEARCH_TEXT = (
    "lower(regexp_replace(normalize((metadata || jsonb_object("
    "ARRAY['name', 'version'], ARRAY[name::text, version::text]))::text, NFKD), "
    f"'{MARKS}', '', 'g'))"
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column(
        "versions",
        sa.Column(
            "search_text", sa.Text(), sa.Computed(SEARCH_TEXT, persisted=True), nullable=False
        ),
    )
    op.create_index(
        "ix_versions_search_text",
        "versions",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_versions_search_text", table_name="versions")
    op.drop_column("versions", "search_text")
