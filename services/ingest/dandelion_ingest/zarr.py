"""The Zarr ingest job: freeze a finalized archive's current files as a snapshot with DANDI's
zarr checksum, then point the draft's zarr assets at it (docs/zarr.md, Flow step 4).

Algorithm (arq may run it twice, and a run may die anywhere)
1. Under the archive's row lock: only Uploaded or Ingesting archives are ingested. Uploaded
   means a fresh start: a provisional snapshot (checksum "") left by a run before the last
   change is stale and dropped. Ingesting means an earlier run died: its provisional snapshot
   holds a prefix (in key order) of the same listing, and is continued. Status → Ingesting.
2. The current object versions are listed from after the greatest path already stored, and
   written as entries, each batch in its own transaction: a killed run loses one batch at
   most, and never leaves a gap (pages come in key order).
3. The checksum is computed from the entries read back in path order, by a streaming
   version of zarr_checksum's tree (memory: one open folder per level, not the whole tree).
4. In one transaction, under the archive's and the draft's row locks: if the archive changed
   meanwhile (the API sets Pending when files are added or deleted) the provisional snapshot
   is dropped; else it gets its checksum, the archive is Complete, and the draft's assets of
   the archive point at it (in place, or as a new row when the asset is published).
5. Snapshots of the archive no asset and no archive points to any more are deleted.

S3 and database outages raise the shared handler's Retry (the job continues where it was).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from arq import Retry
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from zarr_checksum.checksum import EMPTY_CHECKSUM

from dandelion_common.db.enums import AssetStatus, OutboxEntity, VersionStatus, ZarrStatus
from dandelion_common.db.models import (
    Asset,
    AssetPath,
    Version,
    VersionAsset,
    ZarrArchive,
    ZarrSnapshot,
    ZarrSnapshotEntry,
)
from dandelion_common.drafts import assets_changed
from dandelion_common.errors import StorageError
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import (
    INGEST_ZARR,
    VALIDATE_ZARR_ASSET,
    ZarrAssetRef,
    ZarrRef,
)
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.metadata import strip_asset_computed
from dandelion_common.outbox import emit
from dandelion_common.settings import Environment, Settings, WorkerSettings
from dandelion_common.storage import ListedObject, S3Storage, zarr_key

logger = logging.getLogger("dandelion.ingest.zarr")
T = TypeVar("T")

PROVISIONAL = ""  # the checksum of a snapshot still being built
BATCH = 1000  # entries per transaction (an S3 listing page)
READ_BATCH = 10_000  # entries per fetch when the checksum reads them back
PUBLISHING_RETRY_SECONDS = 5
# A folder's file list is kept in memory up to this size, then on disk: zarr v2 keeps every
# chunk of an array in one folder, so a folder may list a million files.
SPOOL_BYTES = 8 * 1024 * 1024
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class ZarrIngestError(Exception):
    """The archive holds something DANDI's checksum cannot describe (not an outage)."""


class _Superseded(Exception):
    """Another run of the job dropped or finished the provisional snapshot this run builds."""


@handler(INGEST_ZARR)
async def ingest_zarr(ctx: Context, payload: ZarrRef) -> str:
    """Snapshot a finalized archive and point the draft's assets at it."""
    extra = {"zarr_id": str(payload.zarr_id)}
    snapshot_id = await start(ctx, payload.zarr_id)
    if snapshot_id is None:
        return "nothing to ingest"
    try:
        await record_entries(ctx, payload.zarr_id, snapshot_id, deadline=_deadline(ctx))
        digest = await checksum_of(ctx, snapshot_id)
        outcome = await finish(ctx, payload.zarr_id, snapshot_id, digest)
    except _Superseded:
        return "superseded"
    if outcome == "refinalized":
        # Changed and finalized again while this run listed: its own job id may have been
        # refused (this one was still known), so this job ingests again.
        raise Retry(defer=1)
    if outcome == "complete":
        await delete_unreferenced(ctx, payload.zarr_id)
        logger.info("zarr ingested", extra={**extra, "checksum": digest.checksum})
        return digest.checksum
    return outcome


def _deadline(ctx: Context) -> float:
    # arq cancels a job at its timeout; stop a little before and continue in a fresh try
    # (every batch is committed, so nothing is lost).
    settings: WorkerSettings = ctx["settings"].worker
    timeout = settings.job_timeout_seconds
    return time.monotonic() + timeout - min(60.0, timeout / 10)


# -- 1. start --------------------------------------------------------------------------------


async def start(ctx: Context, zarr_id: uuid.UUID) -> uuid.UUID | None:
    """The provisional snapshot to fill (new, or an earlier run's); None: nothing to do."""
    async with job_session(ctx) as session:
        archive = await session.get(ZarrArchive, zarr_id, with_for_update=True)
        if archive is None or archive.status not in (ZarrStatus.UPLOADED, ZarrStatus.INGESTING):
            return None
        provisional = select(ZarrSnapshot.id).where(
            ZarrSnapshot.zarr_id == zarr_id, ZarrSnapshot.checksum == PROVISIONAL
        )
        if archive.status is ZarrStatus.UPLOADED:
            # Built before the last change: its entries may name files since replaced.
            await session.execute(delete(ZarrSnapshot).where(ZarrSnapshot.id.in_(provisional)))
        elif (found := await session.scalar(provisional.limit(1))) is not None:
            return found
        archive.status = ZarrStatus.INGESTING
        snapshot = ZarrSnapshot(zarr_id=zarr_id, checksum=PROVISIONAL, file_count=0, size=0)
        session.add(snapshot)
        await session.flush()
        return snapshot.id


# -- 2. listing --------------------------------------------------------------------------------


async def record_entries(
    ctx: Context,
    zarr_id: uuid.UUID,
    snapshot_id: uuid.UUID,
    *,
    deadline: float,
    batch: int = BATCH,
) -> int:
    """Store the archive's current objects after the last stored path; returns how many.
    Past `deadline`, stops after a committed batch and asks arq to continue (Retry)."""
    storage: S3Storage = ctx["storage"]
    prefix = zarr_key(zarr_id)
    after = await _last_path(ctx, snapshot_id)
    start_key = zarr_key(zarr_id, after) if after is not None else None
    written = 0
    listing = _prefetched(storage.zarr.latest_versions(prefix, after=start_key))
    async with aclosing(listing) as pages:
        async for page in pages:
            # S3 starts after the marker; the check keeps a restart right on a server that
            # would repeat it.
            rows = [_entry(snapshot_id, prefix, o) for o in page]
            rows = [r for r in rows if after is None or r["path"] > after]
            for first in range(0, len(rows), batch):
                chunk = rows[first : first + batch]
                await _write(ctx, chunk)
                written += len(chunk)
                if time.monotonic() > deadline:
                    logger.info("zarr ingest goes on in a new try", extra={"zarr_id": str(zarr_id)})
                    raise Retry(defer=0)
    return written


async def _prefetched(pages: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """`pages`, the next one listed while the caller writes the current one: the ingest
    then runs at the pace of the slower of S3's listing and the database's inserts."""
    ahead: asyncio.Future[T] = asyncio.ensure_future(anext(pages))
    try:
        while True:
            try:
                page = await ahead
            except StopAsyncIteration:
                return
            ahead = asyncio.ensure_future(anext(pages))
            yield page
    finally:
        ahead.cancel()
        await asyncio.gather(ahead, return_exceptions=True)
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()


async def _last_path(ctx: Context, snapshot_id: uuid.UUID) -> str | None:
    async with job_session(ctx) as session:
        query = select(func.max(ZarrSnapshotEntry.path)).where(
            ZarrSnapshotEntry.snapshot_id == snapshot_id
        )
        last: str | None = await session.scalar(query)
    return last


def _entry(snapshot_id: uuid.UUID, prefix: str, listed: ListedObject) -> dict[str, Any]:
    path = listed.key[len(prefix) :]
    if not _MD5.match(listed.etag):
        # A multipart upload's ETag is no MD5; DANDI's clients PUT each file whole.
        raise ZarrIngestError(f"{listed.key}: ETag {listed.etag!r} is not an MD5")
    if listed.version_id is None:
        raise ZarrIngestError(f"{listed.key}: no version id (is the zarr bucket versioned?)")
    return {
        "snapshot_id": snapshot_id,
        "path": path,
        "s3_version_id": listed.version_id,
        "md5": listed.etag,
        "size": listed.size,
        "last_modified": listed.last_modified,
    }


async def _write(ctx: Context, rows: list[dict[str, Any]]) -> None:
    # DO NOTHING: two runs of the job (arq may start a second) write the same entries.
    statement = insert(ZarrSnapshotEntry).on_conflict_do_nothing()
    try:
        async with job_session(ctx) as session:
            await session.execute(statement, rows)
    except IntegrityError as exc:  # the snapshot was dropped by another run
        raise _Superseded from exc


# -- 3. checksum -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    checksum: str
    file_count: int
    size: int


async def checksum_of(ctx: Context, snapshot_id: uuid.UUID) -> Digest:
    """DANDI's zarr checksum of the snapshot's entries, read back in path order."""
    query = (
        select(ZarrSnapshotEntry.path, ZarrSnapshotEntry.md5, ZarrSnapshotEntry.size)
        .where(ZarrSnapshotEntry.snapshot_id == snapshot_id)
        .order_by(ZarrSnapshotEntry.path)
        .execution_options(yield_per=READ_BATCH)
    )
    with StreamingZarrChecksum() as tree:
        async with job_session(ctx) as session:
            async for path, md5, size in await session.stream(query):
                tree.add(path, md5, size)
        return tree.digest()


def _fragment(digest: str, name: str, size: int) -> bytes:
    """One ZarrChecksum as zarr_checksum serializes it (`json.dumps(asdict(...))`, compact)."""
    return f'{{"digest":"{digest}","name":{json.dumps(name)},"size":{size}}}'.encode()


@dataclass
class _Folder:
    name: str
    files: IO[bytes]
    folders: list[tuple[str, bytes]] = field(default_factory=list)
    has_files: bool = False
    count: int = 0  # files in the folder and below
    size: int = 0


class StreamingZarrChecksum:
    """zarr_checksum's `ZarrChecksumTree`, fed files in path (UTF-8 byte) order.

    A folder's contents are contiguous in that order, so each folder is finished, hashed and
    forgotten as soon as a path leaves it: only the open folders (one per level) are held.
    Its files arrive in name order (code point order is UTF-8 byte order); its subfolders do
    not always ("a-b/x" sorts before "a/x"), so those are sorted when it is finished.
    """

    def __init__(self) -> None:
        self._open: list[_Folder] = [self._folder("")]
        self._last: str | None = None

    @staticmethod
    def _folder(name: str) -> _Folder:
        return _Folder(name, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES))

    def add(self, path: str, md5: str, size: int) -> None:
        if self._last is not None and path <= self._last:
            raise ValueError(f"paths must come in increasing order: {path!r} after {self._last!r}")
        *folders, name = path.split("/")
        if not name or not all(folders):
            raise ZarrIngestError(f"{path!r} has an empty path segment")
        self._last = path
        depth = self._common_depth(folders)
        while len(self._open) > depth + 1:
            self._close_deepest()
        self._open.extend(self._folder(f) for f in folders[depth:])
        current = self._open[-1]
        current.files.write((b"," if current.has_files else b"") + _fragment(md5, name, size))
        current.has_files = True
        current.count, current.size = current.count + 1, current.size + size

    def _common_depth(self, folders: Sequence[str]) -> int:
        depth = 0
        for open_folder, folder in zip(self._open[1:], folders, strict=False):
            if open_folder.name != folder:
                break
            depth += 1
        return depth

    def _close_deepest(self) -> None:
        folder = self._open.pop()
        md5 = self._hash(folder)
        digest = f"{md5}-{folder.count}--{folder.size}"
        parent = self._open[-1]
        parent.folders.append((folder.name, _fragment(digest, folder.name, folder.size)))
        parent.count, parent.size = parent.count + folder.count, parent.size + folder.size

    @staticmethod
    def _hash(folder: _Folder) -> str:
        """md5 of `{"directories":[...],"files":[...]}`, as ZarrChecksumManifest hashes it."""
        md5 = hashlib.md5(usedforsecurity=False)
        folder.folders.sort(key=lambda item: item[0])
        md5.update(b'{"directories":[' + b",".join(f for _, f in folder.folders) + b'],"files":[')
        folder.files.seek(0)
        while chunk := folder.files.read(1024 * 1024):
            md5.update(chunk)
        folder.files.close()
        md5.update(b"]}")
        return md5.hexdigest()

    def digest(self) -> Digest:
        """The checksum of everything added; the tree cannot be used afterwards."""
        while len(self._open) > 1:
            self._close_deepest()
        root = self._open[0]
        if root.count == 0:
            root.files.close()
            return Digest(EMPTY_CHECKSUM, 0, 0)
        checksum = f"{self._hash(root)}-{root.count}--{root.size}"
        return Digest(checksum, root.count, root.size)

    def close(self) -> None:
        for folder in self._open:
            folder.files.close()

    def __enter__(self) -> StreamingZarrChecksum:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- 4. finish -------------------------------------------------------------------------------


async def finish(ctx: Context, zarr_id: uuid.UUID, snapshot_id: uuid.UUID, digest: Digest) -> str:
    """Complete the archive with the snapshot and update the draft, in one transaction;
    returns "complete", "changed" (the snapshot is dropped), "refinalized" or "gone"."""
    async with job_session(ctx) as session:
        archive = await session.get(ZarrArchive, zarr_id, with_for_update=True)
        snapshot = await session.get(ZarrSnapshot, snapshot_id, with_for_update=True)
        if archive is None:
            return "gone"
        if snapshot is None or snapshot.checksum != PROVISIONAL:
            raise _Superseded
        if archive.status is not ZarrStatus.INGESTING:
            # Files were added or deleted while this run listed: what it saw is stale.
            await session.delete(snapshot)
            return "refinalized" if archive.status is ZarrStatus.UPLOADED else "changed"
        draft = await _draft(session, archive.dandiset_id)
        if draft is not None and draft.status is VersionStatus.PUBLISHING:
            # The publish job copies the draft it checked; the draft changes after it.
            raise Retry(defer=PUBLISHING_RETRY_SECONDS)
        snapshot.checksum, snapshot.file_count, snapshot.size = (
            digest.checksum, digest.file_count, digest.size,
        )  # fmt: skip
        archive.status, archive.snapshot_id = ZarrStatus.COMPLETE, snapshot.id
        archive.checksum, archive.file_count, archive.size = (
            digest.checksum, digest.file_count, digest.size,
        )  # fmt: skip
        if draft is not None:
            await point_draft_assets(session, draft, zarr_id, snapshot)
    return "complete"


async def _draft(session: AsyncSession, dandiset_id: int) -> Version | None:
    query = select(Version).where(Version.dandiset_id == dandiset_id, Version.version == "draft")
    return await session.scalar(query.with_for_update())


async def point_draft_assets(
    session: AsyncSession, draft: Version, zarr_id: uuid.UUID, snapshot: ZarrSnapshot
) -> None:
    """The draft's assets of the archive describe `snapshot`; sizes and revision follow."""
    old_snapshot = aliased(ZarrSnapshot)
    query = (
        select(Asset, func.coalesce(old_snapshot.size, 0))
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .outerjoin(old_snapshot, old_snapshot.id == Asset.zarr_snapshot_id)
        .where(VersionAsset.version_id == draft.id, Asset.zarr_id == zarr_id)
    )
    held = list(await session.execute(query))
    if not held:
        return
    growth = 0
    for asset, old_size in held:
        current = await _repoint(session, draft, asset, snapshot)
        await _resize(session, draft.id, asset.path, snapshot.size - old_size)
        growth += snapshot.size - old_size
        payload = ZarrAssetRef(asset_id=current.id, snapshot_id=snapshot.id)
        enqueue_after_commit(session, VALIDATE_ZARR_ASSET, payload)
    await assets_changed(session, draft.id, files=0, size=growth)


async def _repoint(
    session: AsyncSession, draft: Version, asset: Asset, snapshot: ZarrSnapshot
) -> Asset:
    """The asset row the draft holds from now on, pointed at `snapshot` and Pending."""
    if not asset.published:
        asset.zarr_snapshot_id, asset.status, asset.validation_errors = (
            snapshot.id, AssetStatus.PENDING, [],
        )  # fmt: skip
        emit(session, OutboxEntity.ASSET, asset.id)
        return asset
    # Published rows are shared with a published version, hence immutable: a new row
    # replaces it in the draft only (as any draft change does).
    replacement = Asset(
        id=uuid.uuid4(),
        path=asset.path,
        zarr_id=asset.zarr_id,
        zarr_snapshot_id=snapshot.id,
        metadata_={**strip_asset_computed(asset.metadata_), "path": asset.path},
        status=AssetStatus.PENDING,
        published=False,
    )
    session.add(replacement)
    await session.flush()
    await session.execute(
        update(VersionAsset)
        .where(VersionAsset.version_id == draft.id, VersionAsset.asset_id == asset.id)
        .values(asset_id=replacement.id, created=func.now())
    )
    await session.execute(
        update(AssetPath)
        .where(AssetPath.version_id == draft.id, AssetPath.path == asset.path)
        .values(asset_id=replacement.id)
    )
    emit(session, OutboxEntity.ASSET, asset.id)  # no longer in the draft
    emit(session, OutboxEntity.ASSET, replacement.id)
    return replacement


def _nodes(path: str) -> list[str]:
    """The asset's leaf and every folder above it in `asset_paths`."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


async def _resize(session: AsyncSession, draft_id: int, path: str, delta: int) -> None:
    if delta:
        await session.execute(
            update(AssetPath)
            .where(AssetPath.version_id == draft_id, AssetPath.path.in_(_nodes(path)))
            .values(aggregate_size=AssetPath.aggregate_size + delta)
        )


# -- 5. old snapshots --------------------------------------------------------------------------


async def delete_unreferenced(ctx: Context, zarr_id: uuid.UUID) -> int:
    """Delete the archive's finished snapshots no asset and no archive points to (their
    entries cascade); returns how many. Its own transaction: it may delete a million
    entries, which need not hold the archive's lock."""
    async with job_session(ctx) as session:
        deleted = await session.scalars(
            delete(ZarrSnapshot)
            .where(
                ZarrSnapshot.zarr_id == zarr_id,
                ZarrSnapshot.checksum != PROVISIONAL,
                ~exists().where(Asset.zarr_snapshot_id == ZarrSnapshot.id),
                ~exists().where(ZarrArchive.snapshot_id == ZarrSnapshot.id),
            )
            .returning(ZarrSnapshot.id)
        )
        count = len(deleted.all())
    if count:
        logger.info("old zarr snapshots deleted", extra={"zarr_id": str(zarr_id), "count": count})
    return count


class UnversionedZarrBucket(RuntimeError):
    """The zarr bucket keeps no object versions: published Zarrs could not keep their bytes."""


async def check_zarr_bucket_versioned(ctx: Context) -> None:
    """At startup: a production worker refuses to run on an unversioned zarr bucket (every
    ingest would fail, and an edit could overwrite a published chunk); elsewhere a warning.
    An S3 that cannot be reached is no reason to stop: the ingest checks each object anyway."""
    settings: Settings = ctx["settings"]
    zarrs: S3Storage = ctx["storage"].zarr
    try:
        if await zarrs.versioning_enabled():
            return
    except StorageError as exc:
        logger.warning("zarr bucket versioning unknown: %s", exc, extra={"bucket": zarrs.bucket})
        return
    message = f"the zarr bucket {zarrs.bucket} does not have S3 object versioning enabled"
    if settings.environment is Environment.PRODUCTION:
        raise UnversionedZarrBucket(f"refusing to start: {message}")
    logger.warning(message, extra={"bucket": zarrs.bucket})
