"""SQLAlchemy models: the archive's single source of truth.

Relationships are ``lazy="raise"``: every query states what it loads, so an async session
never issues a hidden query. Which service writes which table is in DESIGN.md (Ownership).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dandelion_common.db.base import Base, Timestamped
from dandelion_common.db.enums import (
    AssetStatus,
    DoiState,
    DoiTarget,
    EmbargoStatus,
    ExtractStatus,
    OutboxEntity,
    OutboxOperation,
    UserStatus,
    VersionStatus,
    ZarrStatus,
)


def _enum(enum: type[StrEnum], name: str) -> Enum:
    """A VARCHAR with a CHECK constraint holding the enum's wire values (no native PG enum)."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254), server_default="")
    first_name: Mapped[str] = mapped_column(String(150), server_default="")
    last_name: Mapped[str] = mapped_column(String(150), server_default="")
    status: Mapped[UserStatus] = mapped_column(
        _enum(UserStatus, "user_status"), server_default=UserStatus.INCOMPLETE.value
    )
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default="false")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class ApiToken(Base):
    """One API key per user, as DANDI; only a SHA-256 of the key is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(lazy="raise")


class Dandiset(Timestamped, Base):
    __tablename__ = "dandisets"

    # Admins may choose an identifier at creation, so ids come from an identity that allows it.
    id: Mapped[int] = mapped_column(Integer, Identity(start=1, always=False), primary_key=True)
    embargo_status: Mapped[EmbargoStatus] = mapped_column(
        _enum(EmbargoStatus, "embargo_status"), server_default=EmbargoStatus.OPEN.value
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
        _enum(VersionStatus, "version_status"), server_default=VersionStatus.PENDING.value
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
    status: Mapped[ExtractStatus] = mapped_column(_enum(ExtractStatus, "extract_status"))
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


class ZarrArchive(Timestamped, Base):
    """A Zarr archive being uploaded into one dandiset (DANDI's ZarrArchive). Its files live in
    the versioned zarr bucket under `zarr/{id}/`; each ingest freezes what it saw as a
    `ZarrSnapshot`, which assets (and so published versions) point to."""

    __tablename__ = "zarr_archives"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    dandiset_id: Mapped[int] = mapped_column(
        ForeignKey("dandisets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(512))
    status: Mapped[ZarrStatus] = mapped_column(
        _enum(ZarrStatus, "zarr_status"), server_default=ZarrStatus.PENDING.value
    )
    checksum: Mapped[str | None] = mapped_column(String(128))
    file_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    size: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # The snapshot the last completed ingest made (None before the first one).
    snapshot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zarr_snapshots.id", ondelete="SET NULL", use_alter=True)
    )
    # When garbage collection last removed the object versions no snapshot names; the archive
    # is visited again only after a later change (`modified`).
    versions_collected: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("dandiset_id", "name"),)


class ZarrSnapshot(Base):
    """The files of a Zarr archive as one ingest saw them: immutable. Its id is served as a
    zarr id of its own (`/api/zarr/{snapshot_id}/`), read-only, so a published version's zarr
    assets list and download exactly the objects (S3 object versions) they had."""

    __tablename__ = "zarr_snapshots"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    zarr_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("zarr_archives.id", ondelete="RESTRICT"), index=True
    )
    checksum: Mapped[str] = mapped_column(String(128))
    file_count: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ZarrSnapshotEntry(Base):
    """One file of a snapshot: its path in the archive and the S3 object version holding it."""

    __tablename__ = "zarr_snapshot_entries"

    snapshot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("zarr_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    # C collation: listings page by `path > after` in S3's (byte) order.
    path: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    s3_version_id: Mapped[str] = mapped_column(String(1024))
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
        _enum(AssetStatus, "asset_status"), server_default=AssetStatus.PENDING.value
    )
    validation_errors: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    published: Mapped[bool] = mapped_column(Boolean, server_default="false")

    blob: Mapped[AssetBlob | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("(blob_id IS NULL) <> (zarr_id IS NULL)", name="blob_or_zarr"),
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


class AuditRecord(Base):
    """Who changed what; kept after the dandiset is deleted, hence no foreign key."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    dandiset_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(150))
    user_email: Mapped[str] = mapped_column(String(254))
    user_fullname: Mapped[str] = mapped_column(String(301))
    record_type: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)


class SearchOutbox(Base):
    """Transactional outbox: a row per change search must see, drained by the search worker."""

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entity_type: Mapped[OutboxEntity] = mapped_column(_enum(OutboxEntity, "outbox_entity"))
    entity_id: Mapped[str] = mapped_column(Text)
    operation: Mapped[OutboxOperation] = mapped_column(_enum(OutboxOperation, "outbox_operation"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_search_outbox_entity", "entity_type", "entity_id"),)


# --- Search (written by the search worker only; see services/search) ---------------------

# Imported here so the search tables stay one self-contained block at the end of the file.
from sqlalchemy.dialects.postgresql import TSVECTOR  # noqa: E402

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


class Doi(Base):
    """A DOI we own at DataCite: a dandiset's concept DOI (`version` None) or a published
    version's. Rows outlive their dandiset or version, since a findable DOI is hidden, never
    deleted; the doi worker moves DataCite from `state` to `target`."""

    __tablename__ = "dois"

    doi: Mapped[str] = mapped_column(Text, primary_key=True)
    dandiset_id: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[DoiTarget] = mapped_column(_enum(DoiTarget, "doi_target"))
    state: Mapped[DoiState] = mapped_column(
        _enum(DoiState, "doi_state"), server_default=DoiState.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    error_status: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    synced: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
