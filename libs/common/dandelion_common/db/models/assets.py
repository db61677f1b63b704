"""A version's assets: the immutable asset rows, which version holds which, and the folder tree
kept beside them; all three change together, in the transaction of every asset change."""

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
    String,
    UniqueConstraint,
    Uuid,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dandelion_common.db.base import Base, Timestamped, string_enum
from dandelion_common.db.enums import AssetStatus
from dandelion_common.db.models.blobs import AssetBlob


class Asset(Timestamped, Base):
    """An immutable asset row; a change in the draft creates a new row with a new id."""

    __tablename__ = "assets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    path: Mapped[str] = mapped_column(String(512))
    blob_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("asset_blobs.id", ondelete="RESTRICT"), index=True
    )
    # A zarr asset: the archive it was created for, and the snapshot its digest and size
    # describe (None until the archive's first ingest). Exactly one of blob_id and zarr_id.
    zarr_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zarr_archives.id", ondelete="RESTRICT"), index=True
    )
    zarr_snapshot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zarr_snapshots.id", ondelete="RESTRICT"), index=True
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    status: Mapped[AssetStatus] = mapped_column(
        string_enum(AssetStatus, "asset_status"), server_default=AssetStatus.PENDING.value
    )
    validation_errors: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    published: Mapped[bool] = mapped_column(Boolean, server_default="false")

    blob: Mapped[AssetBlob | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("(blob_id IS NULL) <> (zarr_id IS NULL)", name="blob_or_zarr"),
        # The few assets not (yet) valid, for a draft's validation summary: without it the
        # summary joins every asset of the version (hundreds of ms at 100,000 assets).
        Index(
            "ix_assets_not_valid",
            "id",
            postgresql_where=text("status IN ('Pending', 'Validating', 'Invalid')"),
        ),
    )


class VersionAsset(Base):
    """Which assets a version holds; published versions share rows with the draft."""

    __tablename__ = "version_assets"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assets.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    # Copied from the asset (paths never change in place) so uniqueness is a constraint.
    path: Mapped[str] = mapped_column(String(512))
    # Copied from the asset too: the default listing order is served by an index-only scan.
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("version_id", "path"),
        Index("ix_version_assets_created", "version_id", "created", "asset_id"),
        # The asset list filters by a case-insensitive path prefix.
        Index(
            "ix_version_assets_lower_path",
            "version_id",
            func.lower(literal_column("path")).label("lower_path"),
            postgresql_ops={"lower_path": "text_pattern_ops"},
        ),
    )


class AssetPath(Base):
    """One node of a version's folder tree with its aggregates, kept up to date on every asset
    change, so folder listings never scan assets. A leaf (a file) carries its asset id."""

    __tablename__ = "asset_paths"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(512), primary_key=True)
    parent: Mapped[str] = mapped_column(String(512))  # "" for top-level nodes
    asset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assets.id", ondelete="RESTRICT"), index=True
    )
    aggregate_files: Mapped[int] = mapped_column(BigInteger)
    aggregate_size: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_asset_paths_children", "version_id", "parent", "path"),
        CheckConstraint("aggregate_files > 0", name="not_empty"),
    )
