"""Stored bytes: multipart uploads in progress, the blobs they become, and what the ingest
worker read from each blob (the api writes uploads and blobs, ingest their checksums and
extracts)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dandelion_common.db.base import Base, Timestamped, string_enum
from dandelion_common.db.enums import ExtractStatus


class Upload(Base):
    """A multipart upload in progress; becomes an AssetBlob when validated."""

    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    multipart_upload_id: Mapped[str] = mapped_column(String(256))
    etag: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(BigInteger)
    dandiset_id: Mapped[int] = mapped_column(
        ForeignKey("dandisets.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    embargoed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AssetBlob(Timestamped, Base):
    __tablename__ = "asset_blobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    etag: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    embargoed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # The dandiset an embargoed upload was made in (kept after its unembargo); NULL for
    # blobs uploaded open. Equal bytes may be a blob of their own in each embargoed dandiset,
    # so deduplication never hands one dandiset another's embargoed blob (or its id).
    dandiset_id: Mapped[int | None] = mapped_column(Integer)
    # When the blob had every fact validation reads (its SHA-256 and its extraction's
    # outcome), set once by the job recording the last of them (dandelion_ingest.readiness).
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("etag", "size", "dandiset_id", postgresql_nulls_not_distinct=True),
        CheckConstraint("size >= 0", name="size_not_negative"),
        # The few blobs still being ingested, oldest first, for the reconcile sweep.
        Index("ix_asset_blobs_unready", "created", postgresql_where=text("ready_at IS NULL")),
    )


class BlobExtract(Base):
    """What the ingest worker read from a blob's NWB content: one row per blob, since equal
    bytes give equal facts. Typed columns serve search facets and ranges; `metadata` is the
    dandischema fragment merged into the assets' metadata; `findings` are advisory."""

    __tablename__ = "blob_extracts"

    blob_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("asset_blobs.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[ExtractStatus] = mapped_column(string_enum(ExtractStatus, "extract_status"))
    error: Mapped[str] = mapped_column(Text, server_default="")
    extractor_version: Mapped[str] = mapped_column(String(32))
    extracted: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    bytes_read: Mapped[int] = mapped_column(BigInteger, server_default="0")
    nwb_version: Mapped[str | None] = mapped_column(String(32))
    species: Mapped[str | None] = mapped_column(String(200), index=True)
    sex: Mapped[str | None] = mapped_column(String(32))
    age_days: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    subject_id: Mapped[str | None] = mapped_column(Text)
    session_start_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    electrode_count: Mapped[int | None] = mapped_column(Integer, index=True)
    unit_count: Mapped[int | None] = mapped_column(Integer)
    brain_locations: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    neurodata_types: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    sampling_rates: Mapped[list[float]] = mapped_column(
        ARRAY(DOUBLE_PRECISION), server_default="{}"
    )
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default="{}")
    # None until the (slower, advisory) inspection job has run.
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index("ix_blob_extracts_brain_locations", "brain_locations", postgresql_using="gin"),
        Index("ix_blob_extracts_neurodata_types", "neurodata_types", postgresql_using="gin"),
    )
