"""Dandisets and what hangs off one: its versions, owners and stars (written by the api; the
ingest worker writes published versions and validation status)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dandelion_common.db.base import Base, Timestamped, string_enum
from dandelion_common.db.enums import EmbargoStatus, VersionStatus


class Dandiset(Timestamped, Base):
    __tablename__ = "dandisets"

    # Admins may choose an identifier at creation, so ids come from an identity that allows it.
    id: Mapped[int] = mapped_column(Integer, Identity(start=1, always=False), primary_key=True)
    embargo_status: Mapped[EmbargoStatus] = mapped_column(
        string_enum(EmbargoStatus, "embargo_status"), server_default=EmbargoStatus.OPEN.value
    )
    embargo_end_date: Mapped[date | None] = mapped_column(Date)
    # Who asked for the unembargo in progress, and when: the ingest reconcile sends its job
    # again should the one sent after the commit be lost. (No foreign key: a user deleted
    # since is recorded without a name, as in the audit records.)
    unembargo_requested_by: Mapped[int | None] = mapped_column(Integer)
    unembargo_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("id BETWEEN 1 AND 999999", name="six_digit_id"),)


# Unicode's combining-mark blocks: what NFKD splits off accented letters. `?search=` folds
# its terms in Python with the same ranges (dandelion_api.search.repository.fold_text).
MARK_RANGES = (
    ("\u0300", "\u036f"),
    ("\u1ab0", "\u1aff"),
    ("\u1dc0", "\u1dff"),
    ("\u20d0", "\u20ff"),
    ("\ufe20", "\ufe2f"),
)
_MARKS_REGEX = "[" + "".join(f"{low}-{high}" for low, high in MARK_RANGES) + "]"
# The version's document as `?search=` reads it (DANDI's `Unaccent(Cast(metadata, text))`):
# the stored metadata with the version's name and version string, which a draft keeps in
# columns only (DANDI stores them in the draft's document), accents folded and lowercased.
# `ILIKE` lowercases both sides with `lower()` in a UTF-8 database, so `LIKE lower(term)`
# on this text finds what `ILIKE term` did, scanning several times faster. Immutable SQL
# only (`jsonb_object`, not the stable `jsonb_build_object`), so PostgreSQL can keep it
# current on every write of the row, whoever writes it.
SEARCH_TEXT_SQL = (
    "lower(regexp_replace(normalize((metadata || jsonb_object("
    "ARRAY['name', 'version'], ARRAY[name::text, version::text]))::text, NFKD), "
    f"'{_MARKS_REGEX}', '', 'g'))"
)


class Version(Timestamped, Base):
    __tablename__ = "versions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dandiset_id: Mapped[int] = mapped_column(ForeignKey("dandisets.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    status: Mapped[VersionStatus] = mapped_column(
        string_enum(VersionStatus, "version_status"), server_default=VersionStatus.PENDING.value
    )
    validation_errors: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    # Kept up to date on every asset change, so lists never aggregate over assets.
    asset_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    size: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # The draft holds the notes of the publish in progress (DANDI's `release_notes`).
    release_notes: Mapped[str | None] = mapped_column(Text)
    # Who asked for the publish in progress, and when (the draft's, as for the unembargo).
    publish_requested_by: Mapped[int | None] = mapped_column(Integer)
    publish_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped by every change to the draft's Valid asset set (an asset added, removed or
    # validated); the stored assetsSummary is current when it was computed at this revision,
    # so a publish reuses it instead of aggregating every asset again.
    assets_revision: Mapped[int] = mapped_column(BigInteger, server_default="0")
    summary_revision: Mapped[int | None] = mapped_column(BigInteger)

    dandiset: Mapped[Dandiset] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("dandiset_id", "version"),
        CheckConstraint(
            r"version = 'draft' OR version ~ '^0\.\d{6}\.\d{4}$'", name="version_format"
        ),
    )


# What `?search=` matches words in, behind a trigram index (so LIKE '%word%' is an index
# scan). A column of the table that the ORM does not map (added after the mapper was made):
# as large as the metadata, it is never loaded with a version nor returned by its INSERT.
VERSION_SEARCH_TEXT = Column(
    "search_text", Text, Computed(SEARCH_TEXT_SQL, persisted=True), nullable=False
)
cast(Table, Version.__table__).append_column(VERSION_SEARCH_TEXT)
Index(
    "ix_versions_search_text",
    VERSION_SEARCH_TEXT,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)


class DandisetOwner(Base):
    __tablename__ = "dandiset_owners"

    dandiset_id: Mapped[int] = mapped_column(
        ForeignKey("dandisets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DandisetStar(Base):
    __tablename__ = "dandiset_stars"

    dandiset_id: Mapped[int] = mapped_column(
        ForeignKey("dandisets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
