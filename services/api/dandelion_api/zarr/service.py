"""Zarr use cases. A zarr id names a live archive (uploaded to, then finalized) or one of its
snapshots (what an ingest froze; read-only, served from the S3 object versions it recorded).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.assets.paths import validate_path
from dandelion_api.dandisets.access import (
    ensure_modifiable,
    get_dandiset,
    is_owner,
    readable_dandiset,
)
from dandelion_api.zarr import repository
from dandelion_api.zarr.exceptions import (
    INGEST_ERROR,
    PUBLISHED_ERROR,
    FileMissing,
    ZarrExists,
)
from dandelion_api.zarr.schemas import FileEntry, ZarrCreate, ZarrOut
from dandelion_common.db.enums import EmbargoStatus, ZarrStatus
from dandelion_common.db.models import Dandiset, User, ZarrArchive, ZarrSnapshot
from dandelion_common.errors import BadRequest, FieldErrors, NotFound, PermissionDenied
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import INGEST_ZARR, ZarrRef
from dandelion_common.storage import S3Storage, zarr_key

MAX_KEY_BYTES = 1024  # S3 refuses longer keys
HEAD_CONCURRENCY = 32  # existence checks of a DELETE batch in flight at once
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_FOUND = "No ZarrArchive matches the given query."


@dataclass(frozen=True)
class Target:
    """What a zarr id names: the archive, and the snapshot when the id is a snapshot's."""

    archive: ZarrArchive
    snapshot: ZarrSnapshot | None = None

    def out(self) -> ZarrOut:
        archive, snap = self.archive, self.snapshot
        return ZarrOut(
            name=archive.name,
            dandiset=f"{archive.dandiset_id:06}",
            zarr_id=snap.id if snap else archive.id,
            status=ZarrStatus.COMPLETE if snap else archive.status,
            checksum=snap.checksum if snap else archive.checksum,
            file_count=snap.file_count if snap else archive.file_count,
            size=snap.size if snap else archive.size,
        )


def _out(archive: ZarrArchive) -> ZarrOut:
    return Target(archive).out()


async def _target(session: AsyncSession, zarr_id: uuid.UUID, *, lock: bool = False) -> Target:
    found = await repository.archive(session, zarr_id, lock=lock)
    if found is not None:
        return Target(found)
    snap = await repository.snapshot(session, zarr_id)
    if snap is None:
        raise NotFound(_NOT_FOUND)
    return Target(snap[1], snap[0])


async def _readable(session: AsyncSession, zarr_id: uuid.UUID, user: User | None) -> Target:
    """Read access is the dandiset's: embargoed ones answer 401/403 to others."""
    target = await _target(session, zarr_id)
    await readable_dandiset(session, target.archive.dandiset_id, user)
    return target


async def _writable(
    session: AsyncSession, zarr_id: uuid.UUID, user: User
) -> tuple[ZarrArchive, Dandiset]:
    """The live archive, locked against a concurrent finalize or ingest, if the caller owns
    its dandiset. Ownership is checked first, so others learn nothing of its state."""
    target = await _target(session, zarr_id, lock=True)
    if not await is_owner(session, target.archive.dandiset_id, user):
        raise PermissionDenied()
    if target.snapshot is not None:
        raise BadRequest(PUBLISHED_ERROR)
    dandiset = await get_dandiset(session, target.archive.dandiset_id)
    ensure_modifiable(dandiset)
    return target.archive, dandiset


def _changeable(archive: ZarrArchive) -> None:
    """Files change only outside a finalize..ingest run (DANDI's rule)."""
    if archive.status in (ZarrStatus.UPLOADED, ZarrStatus.INGESTING):
        raise BadRequest(INGEST_ERROR)


def _mark_pending(archive: ZarrArchive) -> None:
    """The files changed: what the last ingest computed no longer describes them."""
    archive.status = ZarrStatus.PENDING
    archive.checksum = None
    archive.file_count = 0
    archive.size = 0


def _path_problem(zarr_id: uuid.UUID, path: str) -> str | None:
    """Why `path` cannot name a file inside the archive, or None."""
    if _CONTROL.search(path):
        return "control characters are not allowed"
    if "\\" in path:
        # S3 servers disagree on it: SeaweedFS (the dev stack's) stores `a\b` as `a/b`.
        return "backslashes are not allowed"
    if path.startswith("/"):
        return "it must be relative to the zarr root"
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        return "empty, '.' and '..' segments are not allowed"
    if len(zarr_key(zarr_id, path).encode()) > MAX_KEY_BYTES:
        return "it is too long"
    return None


def file_key(zarr_id: uuid.UUID, path: str) -> str:
    """The S3 key of file `path`, or 400 when it cannot name a file inside the archive."""
    if problem := _path_problem(zarr_id, path):
        raise BadRequest(f"Invalid path {path!r}: {problem}.")
    return zarr_key(zarr_id, path)


def _check_md5(path: str, value: str) -> None:
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise BadRequest(f"Invalid base64md5 for {path!r}: expected the base64 of a 16-byte MD5.")


# -- archives ---------------------------------------------------------------------------------


async def create(session: AsyncSession, *, user: User, body: ZarrCreate) -> ZarrOut:
    try:
        # The name is the zarr asset's path, so it obeys the asset path rules.
        validate_path(body.name)
    except BadRequest as exc:
        raise FieldErrors({"name": [exc.message]}) from exc
    dandiset = await readable_dandiset(session, int(body.dandiset), user)
    if not await is_owner(session, dandiset.id, user):
        raise PermissionDenied()
    ensure_modifiable(dandiset)
    archive = await repository.create(session, dandiset.id, body.name)
    if archive is None:
        raise ZarrExists()
    return _out(archive)


async def list_zarrs(
    session: AsyncSession,
    *,
    user: User | None,
    dandiset: str | None,
    name: str | None,
    offset: int,
    limit: int,
) -> tuple[list[ZarrOut], int]:
    """Live archives only: a snapshot is reached through the asset that holds it."""
    rows, count = await repository.page(
        session,
        user,
        dandiset_id=int(dandiset) if dandiset is not None else None,
        name=name,
        offset=offset,
        limit=limit,
    )
    return [_out(row) for row in rows], count


async def get(session: AsyncSession, *, user: User | None, zarr_id: uuid.UUID) -> ZarrOut:
    return (await _readable(session, zarr_id, user)).out()


async def finalize(session: AsyncSession, *, user: User, zarr_id: uuid.UUID) -> None:
    """Pending → Uploaded; the ingest job, sent once this commits, takes it from there."""
    archive, _ = await _writable(session, zarr_id, user)
    if archive.status is not ZarrStatus.PENDING:
        raise BadRequest(INGEST_ERROR)
    archive.status = ZarrStatus.UPLOADED
    enqueue_after_commit(session, INGEST_ZARR, ZarrRef(zarr_id=archive.id))


# -- files ------------------------------------------------------------------------------------


async def upload_urls(
    session: AsyncSession,
    storage: S3Storage,
    *,
    user: User,
    zarr_id: uuid.UUID,
    files: Sequence[tuple[str, str]],
) -> list[str]:
    """Presigned PUT URLs, one per (path, base64md5), in order. S3 checks the signed MD5, so
    only those bytes land; embargoed dandisets' files carry the embargo tag from the start."""
    archive, dandiset = await _writable(session, zarr_id, user)
    _changeable(archive)
    keys = []
    for path, md5 in files:
        keys.append(file_key(archive.id, path))
        _check_md5(path, md5)
    embargoed = dandiset.embargo_status is EmbargoStatus.EMBARGOED
    tagging = "embargoed=true" if embargoed else None
    urls = [
        await storage.zarr.presign_put(key, content_md5=md5, tagging=tagging)
        for key, (_, md5) in zip(keys, files, strict=True)
    ]
    _mark_pending(archive)
    return urls


async def delete_files(
    session: AsyncSession,
    storage: S3Storage,
    *,
    user: User,
    zarr_id: uuid.UUID,
    paths: Sequence[str],
) -> None:
    """Delete current files (delete markers: published snapshots keep their versions). Every
    file must exist, or nothing is deleted."""
    archive, _ = await _writable(session, zarr_id, user)
    _changeable(archive)
    keys = [file_key(archive.id, path) for path in paths]
    limit = asyncio.Semaphore(HEAD_CONCURRENCY)

    async def exists(key: str) -> bool:
        async with limit:
            return await storage.zarr.head(key) is not None

    found = await asyncio.gather(*(exists(key) for key in keys))
    missing = [key for key, present in zip(keys, found, strict=True) if not present]
    if missing:
        raise FileMissing(missing[0])
    _mark_pending(archive)
    # Written before S3 changes: a database failure then leaves the files as they were.
    await session.flush()
    await storage.zarr.delete_many(keys)


async def list_files(
    session: AsyncSession,
    storage: S3Storage,
    *,
    user: User | None,
    zarr_id: uuid.UUID,
    prefix: str,
    after: str,
    limit: int,
) -> tuple[list[FileEntry], bool]:
    """One page of files under `prefix` after the path `after`, and whether more follow."""
    target = await _readable(session, zarr_id, user)
    if limit == 0:
        return [], False
    if target.snapshot is not None:
        rows = await repository.entries(
            session, target.snapshot.id, prefix=prefix, after=after, limit=limit + 1
        )
        entries = [
            FileEntry(Key=e.path, LastModified=e.last_modified, ETag=e.md5, Size=e.size)
            for e in rows
        ]
        return entries[:limit], len(entries) > limit
    return await _live_files(storage, target.archive.id, prefix=prefix, after=after, limit=limit)


async def _live_files(
    storage: S3Storage, zarr_id: uuid.UUID, *, prefix: str, after: str, limit: int
) -> tuple[list[FileEntry], bool]:
    root = zarr_key(zarr_id)
    full_prefix = zarr_key(zarr_id, prefix)
    if len(full_prefix.encode()) > MAX_KEY_BYTES:
        return [], False  # no key that long exists; S3 would refuse the request
    # S3 refuses a StartAfter longer than a key can be. Every key is at most 1024 bytes, so
    # comparing with `after`'s first 1024 bytes gives the same answer (cut at a character
    # boundary: at worst keys sharing those 1021+ bytes are listed though they sort before).
    start_after = zarr_key(zarr_id, after).encode()[:MAX_KEY_BYTES].decode(errors="ignore")
    objects, truncated = await storage.zarr.list_page(
        full_prefix, start_after=start_after if after else None, limit=limit
    )
    entries = [
        FileEntry(
            Key=o.key.removeprefix(root), LastModified=o.last_modified, ETag=o.etag, Size=o.size
        )
        for o in objects
    ]
    return entries, truncated and bool(entries)


async def download_url(
    session: AsyncSession, storage: S3Storage, *, user: User | None, zarr_id: uuid.UUID, path: str
) -> str:
    """A presigned GET of one file: the live object, or the snapshot's object version."""
    target = await _readable(session, zarr_id, user)
    if _path_problem(target.archive.id, path):
        raise NotFound()  # no file has such a path (and S3 could answer oddly for it)
    key = zarr_key(target.archive.id, path)
    if target.snapshot is not None:
        found = await repository.entry(session, target.snapshot.id, path)
        if found is None:
            raise NotFound()
        return await storage.zarr.presign_get(key, version_id=found.s3_version_id)
    if await storage.zarr.head(key) is None:
        raise NotFound()
    return await storage.zarr.presign_get(key)
