"""Search: the outbox every writer fills in its own transaction, and the tables the search
worker alone writes (the PostgreSQL backend's documents and its reindex bookkeeping)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from dandelion_common.db.base import Base, string_enum
from dandelion_common.db.enums import OutboxEntity, OutboxOperation


class SearchOutbox(Base):
    """Transactional outbox: a row per change search must see, drained by the search worker."""

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entity_type: Mapped[OutboxEntity] = mapped_column(string_enum(OutboxEntity, "outbox_entity"))
    entity_id: Mapped[str] = mapped_column(Text)
    operation: Mapped[OutboxOperation] = mapped_column(
        string_enum(OutboxOperation, "outbox_operation")
    )
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_search_outbox_entity", "entity_type", "entity_id"),)


SEARCH_FACET_COLUMNS = (
    "species",
    "sex",
    "approach",
    "technique",
    "variable",
    "brain_region",
    "neurodata_type",
    "dandiset",
    "encoding_format",
)


class _SearchDocument:
    """The columns of a search table (PostgreSQL backend): one row per indexed document.

    Text is folded by the worker (accents, case) and stored as a `simple` tsvector; facets are
    real arrays with GIN indexes, never JSON paths evaluated per row.
    """

    id: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    dandiset_id: Mapped[int] = mapped_column(Integer)
    embargoed: Mapped[bool] = mapped_column(Boolean)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    sort_name: Mapped[str] = mapped_column(Text(collation="C"))
    size: Mapped[int] = mapped_column(BigInteger, server_default="0")
    modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    search: Mapped[str] = mapped_column(TSVECTOR)
    species: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    sex: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    approach: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    technique: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    variable: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    brain_region: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    neurodata_type: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    dandiset: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    encoding_format: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    age_days_min: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    age_days_max: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    electrode_count_min: Mapped[int | None] = mapped_column(Integer)
    electrode_count_max: Mapped[int | None] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)


def _search_indexes(table: str) -> tuple[Index, ...]:
    gin = [
        Index(f"ix_{table}_{column}", column, postgresql_using="gin")
        for column in ("search", *SEARCH_FACET_COLUMNS)
    ]
    btree = [
        Index(f"ix_{table}_dandiset_id", "dandiset_id"),
        Index(f"ix_{table}_sort_name", "sort_name", "id"),
        Index(f"ix_{table}_size", "size", "id"),
        Index(f"ix_{table}_modified", "modified", "id"),
    ]
    return (*gin, *btree)


class SearchDandisetDocument(_SearchDocument, Base):
    __tablename__ = "search_dandisets"
    __table_args__ = _search_indexes("search_dandisets")


class SearchAssetDocument(_SearchDocument, Base):
    __tablename__ = "search_assets"
    __table_args__ = _search_indexes("search_assets")


class SearchRebuild(Base):
    """A reindex in progress: while this row exists the drain notes every entity it writes,
    and the reindex replays those into the new index before and after the swap."""

    __tablename__ = "search_rebuilds"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(Text)  # the index or table being built
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SearchRebuildTouched(Base):
    __tablename__ = "search_rebuild_touched"

    kind: Mapped[str] = mapped_column(
        ForeignKey("search_rebuilds.kind", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[str] = mapped_column(Text, primary_key=True)


class SearchIndexedDandiset(Base):
    """The embargo state each dandiset was last indexed with: a change re-indexes its assets."""

    __tablename__ = "search_indexed_dandisets"

    dandiset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    embargoed: Mapped[bool] = mapped_column(Boolean)
