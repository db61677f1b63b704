"""Dandisets and what hangs off one: its versions, owners and stars (written by the api; the
ingest worker writes published versions and validation status)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
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
