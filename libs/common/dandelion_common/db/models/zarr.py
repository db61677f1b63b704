"""Zarr archives, their immutable snapshots and the files each snapshot froze (written by the
api and the ingest worker's zarr ingest)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, UniqueConstraint, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from dandelion_common.db.base import Base, Timestamped, string_enum
from dandelion_common.db.enums import ZarrStatus


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
        string_enum(ZarrStatus, "zarr_status"), server_default=ZarrStatus.PENDING.value
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
