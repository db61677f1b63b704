"""Garbage collection: abandoned uploads, blobs no asset uses, and S3 multipart uploads that
no upload row tracks. The ingest worker runs it on a schedule; `dandelion gc` on demand.

What counts as garbage
- An upload is abandoned `upload_max_age_hours` after it started (its part URLs have expired
  by then, as DANDI's do after 7 days). Its S3 multipart upload is aborted, the object that a
  completed but never validated upload left at its key is deleted, then the row.
- A blob is an orphan when no asset row references it, and both its `created` and `modified`
  are older than `orphan_blob_restore_days`. Asset rows are never deleted (removing an asset
  from a draft only unlinks it from the version; published versions share the rows), so a
  blob without an asset never had one and its age is its orphan age. Code that one day
  deletes asset rows must touch `asset_blobs.modified`, which restarts the window.
- A multipart upload in S3 under the blob prefixes, older than the upload age, with no upload
  row (cleared through DELETE /uploads/, or a crash between S3 and the commit) is aborted.
- A zarr archive's older object version (its bucket is versioned) that no snapshot names is
  deleted, once its key has not changed for the upload age. Snapshots name the versions they
  listed while current, and an ingest lists within minutes, so a version that stopped being
  current that long ago can enter no snapshot any more. Delete markers stay (they are empty).
  An archive is visited once per change, when Complete; no row lock is held while it is
  listed (that may take minutes), so files can change meanwhile: only versions that stopped
  being current before the cutoff are ever touched.

Concurrency
- Rows are taken with FOR UPDATE SKIP LOCKED: two runs never take the same row, and a row an
  API request holds (validate locks its upload) waits for the next run.
- Creating an asset takes no explicit lock on its blob, but its foreign-key check takes FOR
  KEY SHARE on the blob row, which conflicts with FOR UPDATE. Once a blob is locked here, no
  asset can start referencing it until this transaction ends (an insert racing the delete then
  fails its foreign-key check, as if the blob had gone a moment earlier). The orphan test is
  repeated by a statement that starts after the lock is held, so an asset committed between
  the first query and the lock is seen; the RESTRICT foreign key remains the last guard.
- S3 first, then rows: an item whose S3 call fails keeps its row and is retried by the next
  run. S3 calls are idempotent (deleting a missing object succeeds; an unknown multipart upload
  counts as aborted). Should the commit itself fail after the S3 calls, the rows stay, still
  garbage, and the next run deletes them.

Services never commit: `collect` does one batch of each kind in the caller's transaction, and
the caller (the cron job, the CLI) commits once at the end. A dry run takes the same row locks
(so it reports exactly what a run would take) and writes nothing; its locks end with it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.cron import CronJob, cron
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import ZarrStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    Upload,
    ZarrArchive,
    ZarrSnapshot,
    ZarrSnapshotEntry,
)
from dandelion_common.errors import StorageError
from dandelion_common.jobs.worker import Context, job_session
from dandelion_common.settings import GcSettings, Settings
from dandelion_common.storage import (
    EMBARGOED_PREFIX,
    MultipartUploadInfo,
    ObjectVersion,
    S3Storage,
    blob_key,
    zarr_key,
)
from dandelion_ingest.resources import ingest_resources

logger = logging.getLogger("dandelion.ingest.gc")

# Where `blob_key` puts blobs, and so uploads; other multipart uploads are not ours to abort.
BLOB_PREFIXES = ("blobs/", f"{EMBARGOED_PREFIX}blobs/")
MAX_LISTED = 20  # ids per kind in a report
_ROW_CHECK_CHUNK = 1000


class GcItems(BaseModel):
    """One kind of garbage: what a run collected (or, dry, would collect)."""

    count: int = 0
    total_bytes: int | None = 0  # uploads: declared sizes; None: S3 does not say
    listed: list[str] = []  # the first MAX_LISTED ids or keys
    batch_full: bool = False  # the run took a whole batch: more may remain

    def add(self, name: str, size: int | None = None) -> None:
        self.count += 1
        if self.total_bytes is not None and size is not None:
            self.total_bytes += size
        if len(self.listed) < MAX_LISTED:
            self.listed.append(name)


class GcReport(BaseModel):
    dry_run: bool
    now: datetime
    upload_cutoff: datetime  # uploads (rows and S3) started before this are abandoned
    blob_cutoff: datetime  # orphan blobs last changed before this are deleted
    # Upload rows: S3 upload aborted, any object left at its key deleted, row deleted.
    uploads: GcItems = Field(default_factory=GcItems)
    # S3 multipart uploads no row tracks: aborted.
    untracked_uploads: GcItems = Field(default_factory=lambda: GcItems(total_bytes=None))
    # Blobs no asset uses: S3 object deleted, row deleted.
    orphan_blobs: GcItems = Field(default_factory=GcItems)
    # Zarr object versions no snapshot names: deleted for good.
    zarr_versions: GcItems = Field(default_factory=GcItems)
    errors: list[str] = []  # items left for the next run

    def render(self) -> str:
        """The report for a terminal."""
        head = "dry run, nothing changed" if self.dry_run else "done"
        lines = [f"garbage collection at {self.now.isoformat()} ({head})"]
        kinds = [
            (f"abandoned uploads (started before {self.upload_cutoff.isoformat()})", self.uploads),
            ("S3 multipart uploads without an upload row", self.untracked_uploads),
            (f"orphan blobs (unchanged since {self.blob_cutoff.isoformat()})", self.orphan_blobs),
            ("zarr object versions no snapshot names", self.zarr_versions),
        ]
        for title, items in kinds:
            size = "" if items.total_bytes is None else f", {items.total_bytes} bytes"
            more = "; batch full, run again for the rest" if items.batch_full else ""
            lines.append(f"{title}: {items.count}{size}{more}")
            lines.extend(f"  {name}" for name in items.listed)
            if items.count > len(items.listed):
                lines.append(f"  ... and {items.count - len(items.listed)} more")
        lines.extend(f"error: {error}" for error in self.errors)
        return "\n".join(lines)


async def collect(
    session: AsyncSession,
    storage: S3Storage,
    settings: GcSettings,
    *,
    now: datetime,
    dry_run: bool = False,
) -> GcReport:
    """Collect one batch of each kind of garbage; `dry_run` reports the same and changes nothing."""
    report = GcReport(
        dry_run=dry_run,
        now=now,
        upload_cutoff=now - timedelta(hours=settings.upload_max_age_hours),
        blob_cutoff=now - timedelta(days=settings.orphan_blob_restore_days),
    )
    await _abandoned_uploads(session, storage, report, settings.batch_size)
    # After the aborts above, so S3 no longer lists them; their rows are excluded anyway.
    await _untracked_uploads(session, storage, report, settings.batch_size)
    await _orphan_blobs(session, storage, report, settings.batch_size)
    await _stale_zarr_versions(session, storage, report, settings.batch_size)
    return report


async def _abandoned_uploads(
    session: AsyncSession, storage: S3Storage, report: GcReport, batch: int
) -> None:
    query = (
        select(Upload)
        .where(Upload.created < report.upload_cutoff)
        .order_by(Upload.created, Upload.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    uploads = list(await session.scalars(query))
    report.uploads.batch_full = len(uploads) == batch
    if not uploads:
        return
    # An Upload row and a blob of the same id never coexist (validate swaps one for the other
    # in one transaction), but an object that is a blob's is never deleted here.
    blob_ids = set(
        await session.scalars(select(AssetBlob.id).where(AssetBlob.id.in_([u.id for u in uploads])))
    )
    done: list[uuid.UUID] = []
    for upload in uploads:
        if not report.dry_run:
            try:
                await _discard_upload(storage, upload, keep_object=upload.id in blob_ids)
            except StorageError as exc:
                report.errors.append(f"upload {upload.id}: {exc}")
                continue
            done.append(upload.id)
        report.uploads.add(str(upload.id), upload.size)
    if done:
        await session.execute(delete(Upload).where(Upload.id.in_(done)))


async def _discard_upload(storage: S3Storage, upload: Upload, *, keep_object: bool) -> None:
    key = blob_key(upload.id, embargoed=upload.embargoed)
    await storage.abort_multipart_upload_if_exists(key, upload.multipart_upload_id)
    if not keep_object:
        # Completed but never validated (or validate lost a dedup race): nothing refers to it.
        await storage.delete(key)


async def _untracked_uploads(
    session: AsyncSession, storage: S3Storage, report: GcReport, batch: int
) -> None:
    try:
        stale = await _stale_multipart_uploads(storage, report.upload_cutoff)
    except StorageError as exc:
        report.errors.append(f"listing S3 multipart uploads: {exc}")
        return
    untracked: list[MultipartUploadInfo] = []
    for start in range(0, len(stale), _ROW_CHECK_CHUNK):
        chunk = stale[start : start + _ROW_CHECK_CHUNK]
        ids = [item.upload_id for item in chunk]
        tracked = set(
            await session.scalars(
                select(Upload.multipart_upload_id).where(Upload.multipart_upload_id.in_(ids))
            )
        )
        untracked.extend(item for item in chunk if item.upload_id not in tracked)
    report.untracked_uploads.batch_full = len(untracked) > batch
    for item in untracked[:batch]:
        if not report.dry_run:
            try:
                await storage.abort_multipart_upload_if_exists(item.key, item.upload_id)
            except StorageError as exc:
                report.errors.append(f"S3 upload {item.key} {item.upload_id}: {exc}")
                continue
        report.untracked_uploads.add(item.key)


async def _stale_multipart_uploads(
    storage: S3Storage, cutoff: datetime
) -> list[MultipartUploadInfo]:
    """S3 multipart uploads under the blob prefixes that started before `cutoff`, oldest first."""
    stale: list[MultipartUploadInfo] = []
    for prefix in BLOB_PREFIXES:
        listing = storage.list_multipart_uploads(prefix)
        stale.extend([item async for item in listing if item.initiated < cutoff])
    return sorted(stale, key=lambda item: (item.initiated, item.key, item.upload_id))


def _unused() -> ColumnElement[bool]:
    return ~select(Asset.id).where(Asset.blob_id == AssetBlob.id).exists()


async def _orphan_blobs(
    session: AsyncSession, storage: S3Storage, report: GcReport, batch: int
) -> None:
    cutoff = report.blob_cutoff
    candidates = (
        select(AssetBlob.id)
        .where(AssetBlob.created < cutoff, AssetBlob.modified < cutoff, _unused())
        .order_by(AssetBlob.created, AssetBlob.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=AssetBlob)
    )
    locked = list(await session.scalars(candidates))
    report.orphan_blobs.batch_full = len(locked) == batch
    if not locked:
        return
    # Under the lock no new asset can reference these; this statement's fresh snapshot also
    # sees any asset committed before the lock was granted.
    confirmed = await session.execute(
        select(AssetBlob.id, AssetBlob.size, AssetBlob.embargoed)
        .where(AssetBlob.id.in_(locked), _unused())
        .order_by(AssetBlob.created, AssetBlob.id)
    )
    done: list[uuid.UUID] = []
    for blob_id, size, embargoed in confirmed:
        if not report.dry_run:
            try:
                await storage.delete(blob_key(blob_id, embargoed=embargoed))
            except StorageError as exc:
                report.errors.append(f"blob {blob_id}: {exc}")
                continue
            done.append(blob_id)
        report.orphan_blobs.add(str(blob_id), size)
    if done:
        await session.execute(delete(AssetBlob).where(AssetBlob.id.in_(done)))


# -- zarr object versions no snapshot names -------------------------------------------------


async def _stale_zarr_versions(
    session: AsyncSession, storage: S3Storage, report: GcReport, batch: int
) -> None:
    cutoff = report.upload_cutoff
    due = (
        select(ZarrArchive.id, ZarrArchive.modified)
        .where(
            ZarrArchive.status == ZarrStatus.COMPLETE,
            ZarrArchive.modified < cutoff,
            or_(
                ZarrArchive.versions_collected.is_(None),
                ZarrArchive.versions_collected < ZarrArchive.modified,
            ),
        )
        .order_by(ZarrArchive.modified, ZarrArchive.id)
    )
    for zarr_id, seen in (await session.execute(due)).all():
        room = batch - report.zarr_versions.count
        garbage, whole = await _unnamed_versions(session, storage, zarr_id, cutoff)
        if not await _delete_versions(storage, report, zarr_id, garbage[:room]):
            continue
        if len(garbage) > room:
            report.zarr_versions.batch_full = True
            return
        if whole and not report.dry_run:  # visited: not again before its next change
            await session.execute(
                update(ZarrArchive)
                .where(ZarrArchive.id == zarr_id, ZarrArchive.modified == seen)
                .values(versions_collected=report.now, modified=ZarrArchive.modified)
            )


async def _unnamed_versions(
    session: AsyncSession, storage: S3Storage, zarr_id: uuid.UUID, cutoff: datetime
) -> tuple[list[ObjectVersion], bool]:
    """The archive's older versions of keys unchanged since `cutoff` that no snapshot names;
    and whether no key was passed over for a change after `cutoff` (a late presigned PUT)."""
    prefix = zarr_key(zarr_id)
    candidates: list[ObjectVersion] = []
    recent = False
    history: list[ObjectVersion] = []  # one key's versions and markers
    async for page in storage.zarr.versions(prefix):
        for version in page:
            if history and version.key != history[0].key:
                candidates += _older_versions(history, cutoff)
                recent = recent or _changed_since(history, cutoff)
                history = []
            history.append(version)
    candidates += _older_versions(history, cutoff)
    recent = recent or _changed_since(history, cutoff)
    named: set[tuple[str, str]] = set()
    for start in range(0, len(candidates), _ROW_CHECK_CHUNK):
        chunk = candidates[start : start + _ROW_CHECK_CHUNK]
        pairs = [(v.key[len(prefix) :], v.version_id) for v in chunk]
        query = (
            select(ZarrSnapshotEntry.path, ZarrSnapshotEntry.s3_version_id)
            .join(ZarrSnapshot, ZarrSnapshot.id == ZarrSnapshotEntry.snapshot_id)
            .where(
                ZarrSnapshot.zarr_id == zarr_id,
                tuple_(ZarrSnapshotEntry.path, ZarrSnapshotEntry.s3_version_id).in_(pairs),
            )
        )
        named.update((path, version) for path, version in await session.execute(query))
    garbage = [v for v in candidates if (v.key[len(prefix) :], v.version_id) not in named]
    return garbage, not recent


def _changed_since(history: list[ObjectVersion], cutoff: datetime) -> bool:
    return any(v.last_modified >= cutoff for v in history)


def _older_versions(history: list[ObjectVersion], cutoff: datetime) -> list[ObjectVersion]:
    """A key's noncurrent object versions, when nothing of the key changed since `cutoff`."""
    if _changed_since(history, cutoff):
        return []
    return [v for v in history if not v.is_latest and not v.delete_marker]


async def _delete_versions(
    storage: S3Storage, report: GcReport, zarr_id: uuid.UUID, garbage: list[ObjectVersion]
) -> bool:
    if garbage and not report.dry_run:
        try:
            await storage.zarr.delete_versions([(v.key, v.version_id) for v in garbage])
        except StorageError as exc:
            report.errors.append(f"zarr {zarr_id}: {exc}")
            return False
    for version in garbage:
        report.zarr_versions.add(f"{version.key}?versionId={version.version_id}", version.size)
    return True


# -- the scheduled job ---------------------------------------------------------------------


async def collect_garbage(ctx: Context) -> dict[str, Any]:
    """One scheduled run: a batch of each kind, committed once at the end (safe to repeat)."""
    resources = ingest_resources(ctx)
    settings = resources.settings
    async with job_session(ctx) as session:
        report = await collect(
            session,
            resources.storage,
            settings.gc,
            now=datetime.now(UTC),
            dry_run=False,
        )
    counts = {
        "uploads": report.uploads.count,
        "untracked_uploads": report.untracked_uploads.count,
        "orphan_blobs": report.orphan_blobs.count,
        "zarr_versions": report.zarr_versions.count,
    }
    logger.info("garbage collected", extra=counts)
    if report.errors:
        logger.warning("garbage left for the next run", extra={"errors": report.errors})
    return report.model_dump(mode="json")


def schedule(interval_minutes: int) -> tuple[set[int], set[int] | None]:
    """arq's (minute, hour) for a period that divides an hour, or whole hours dividing a day."""
    if interval_minutes <= 60:
        return set(range(0, 60, interval_minutes)), None
    return {0}, set(range(0, 24, interval_minutes // 60))


def gc_cron(settings: Settings) -> CronJob | None:
    """The ingest worker's GC schedule; `unique` makes one worker of many run each tick."""
    if not settings.gc.cron_enabled:
        return None
    minute, hour = schedule(settings.gc.interval_minutes)
    return cron(
        collect_garbage,
        name="collect_garbage",
        minute=minute,
        hour=hour,
        unique=True,
        run_at_startup=False,
    )
