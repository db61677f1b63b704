"""Garbage collection against real PostgreSQL and S3: abandoned uploads are aborted, blobs no
asset uses are deleted after the restore window, and nothing else is touched.

Ages come from an injected `now`; rows get old `created` values instead of anyone sleeping.
S3 outlives the test's rolled-back transaction, so tests check their own items by id.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import ingest_context
from factories import create_asset, create_blob, create_dandiset, create_user, dandi_etag
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dandelion_common.db.enums import ZarrStatus
from dandelion_common.db.models import (
    AssetBlob,
    Dandiset,
    Upload,
    ZarrArchive,
    ZarrSnapshot,
    ZarrSnapshotEntry,
)
from dandelion_common.db.session import Database
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import GcSettings, S3Settings, Settings
from dandelion_common.storage import S3Storage, blob_key, zarr_key
from dandelion_ingest.gc import GcReport, collect, collect_garbage, gc_cron, schedule

NOW = datetime.now(UTC)
GC = GcSettings()  # uploads: 7 days; orphan blobs: 30 days
OLD_UPLOAD = NOW - timedelta(days=8)
FRESH_UPLOAD = NOW - timedelta(hours=1)
OLD_BLOB = NOW - timedelta(days=31)
FRESH_BLOB = NOW - timedelta(days=29)


@pytest.fixture
async def dandiset(session: AsyncSession) -> Dandiset:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    return dandiset


async def start_upload(
    session: AsyncSession,
    storage: S3Storage,
    dandiset: Dandiset,
    *,
    created: datetime,
    embargoed: bool = False,
) -> Upload:
    """An upload as initialize leaves it: a real S3 multipart upload and its row."""
    upload_id = uuid.uuid4()
    key = blob_key(upload_id, embargoed=embargoed)
    content = os.urandom(64)
    upload = Upload(
        id=upload_id,
        multipart_upload_id=await storage.create_multipart_upload(key),
        etag=dandi_etag(content),
        size=len(content),
        dandiset_id=dandiset.id,
        embargoed=embargoed,
        created=created,
    )
    session.add(upload)
    await session.flush()
    return upload


async def in_progress(storage: S3Storage, key: str, multipart_upload_id: str) -> bool:
    ids = [item.upload_id async for item in storage.list_multipart_uploads(key)]
    return multipart_upload_id in ids


async def upload_exists(session: AsyncSession, upload_id: uuid.UUID) -> bool:
    return await session.scalar(select(Upload.id).where(Upload.id == upload_id)) is not None


async def stored_blob(
    session: AsyncSession, storage: S3Storage, *, changed: datetime, embargoed: bool = False
) -> AssetBlob:
    """A blob row with its S3 object, created and last modified at `changed`."""
    content = os.urandom(32)
    blob = await create_blob(session, content=content)
    await storage.put(blob_key(blob.id, embargoed=embargoed), content)
    await session.execute(
        update(AssetBlob)
        .where(AssetBlob.id == blob.id)
        .values(created=changed, modified=changed, embargoed=embargoed)
    )
    await session.refresh(blob)
    return blob


async def blob_exists(session: AsyncSession, blob: AssetBlob) -> bool:
    return await session.scalar(select(AssetBlob.id).where(AssetBlob.id == blob.id)) is not None


async def object_exists(storage: S3Storage, blob: AssetBlob) -> bool:
    return await storage.head(blob_key(blob.id, embargoed=blob.embargoed)) is not None


# -- abandoned uploads ---------------------------------------------------------------------


@pytest.mark.parametrize("embargoed", [False, True], ids=["open", "embargoed"])
async def test_an_old_upload_is_aborted_and_a_fresh_one_kept(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset, *, embargoed: bool
) -> None:
    old = await start_upload(session, storage, dandiset, created=OLD_UPLOAD, embargoed=embargoed)
    fresh = await start_upload(session, storage, dandiset, created=FRESH_UPLOAD)
    old_key = blob_key(old.id, embargoed=embargoed)

    report = await collect(session, storage, GC, now=NOW)

    assert (report.uploads.count, report.uploads.listed) == (1, [str(old.id)])
    assert report.uploads.total_bytes == old.size
    assert report.errors == []
    assert not await in_progress(storage, old_key, old.multipart_upload_id)
    assert not await upload_exists(session, old.id)
    assert await in_progress(storage, blob_key(fresh.id), fresh.multipart_upload_id)
    assert await upload_exists(session, fresh.id)


async def test_an_old_completed_but_unvalidated_upload_loses_its_object(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> None:
    """The client completed it and never called validate: the object is nobody's."""
    upload = await start_upload(session, storage, dandiset, created=OLD_UPLOAD)
    key = blob_key(upload.id)
    etag = await storage.upload_part(key, upload.multipart_upload_id, 1, b"abandoned bytes")
    await storage.complete_multipart_upload(key, upload.multipart_upload_id, [(1, etag)])
    assert await storage.head(key) is not None

    report = await collect(session, storage, GC, now=NOW)

    assert report.uploads.listed == [str(upload.id)]
    assert report.errors == []  # S3 no longer knew the multipart upload: that is fine
    assert await storage.head(key) is None
    assert not await upload_exists(session, upload.id)


async def test_an_upload_already_aborted_in_s3_is_still_cleared(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> None:
    upload = await start_upload(session, storage, dandiset, created=OLD_UPLOAD)
    assert await storage.abort_multipart_upload_if_exists(
        blob_key(upload.id), upload.multipart_upload_id
    )

    report = await collect(session, storage, GC, now=NOW)

    assert (report.uploads.listed, report.errors) == ([str(upload.id)], [])
    assert not await upload_exists(session, upload.id)


async def test_an_s3_upload_without_a_row_is_aborted_once_old(
    session: AsyncSession, storage: S3Storage
) -> None:
    key = blob_key(uuid.uuid4())
    multipart_id = await storage.create_multipart_upload(key)
    elsewhere = f"manifests/{uuid.uuid4()}.json"
    foreign_id = await storage.create_multipart_upload(elsewhere)

    young = await collect(session, storage, GC, now=NOW)
    assert key not in young.untracked_uploads.listed
    assert await in_progress(storage, key, multipart_id)

    # S3 dates the upload itself, so the run happens later instead.
    later = datetime.now(UTC) + timedelta(days=8)
    report = await collect(session, storage, GC, now=later)

    assert key in report.untracked_uploads.listed
    assert report.untracked_uploads.total_bytes is None
    assert not await in_progress(storage, key, multipart_id)
    assert await in_progress(storage, elsewhere, foreign_id)  # not under the blob prefixes
    assert await storage.abort_multipart_upload_if_exists(elsewhere, foreign_id)


async def test_an_upload_row_keeps_its_s3_upload_out_of_the_untracked_sweep(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> None:
    """S3 finds the upload old but its row is young (clocks differ): the row decides."""
    later = datetime.now(UTC) + timedelta(days=8)
    upload = await start_upload(session, storage, dandiset, created=later - timedelta(hours=1))

    report = await collect(session, storage, GC, now=later)

    assert blob_key(upload.id) not in report.untracked_uploads.listed
    assert await upload_exists(session, upload.id)
    assert await in_progress(storage, blob_key(upload.id), upload.multipart_upload_id)


# -- orphan blobs ----------------------------------------------------------------------------


@pytest.mark.parametrize("embargoed", [False, True], ids=["open", "embargoed"])
async def test_only_an_unused_blob_past_the_window_is_deleted(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset, *, embargoed: bool
) -> None:
    orphan = await stored_blob(session, storage, changed=OLD_BLOB, embargoed=embargoed)
    recent = await stored_blob(session, storage, changed=FRESH_BLOB)
    touched = await stored_blob(session, storage, changed=OLD_BLOB)
    await session.execute(
        update(AssetBlob).where(AssetBlob.id == touched.id).values(modified=FRESH_BLOB)
    )
    used = await stored_blob(session, storage, changed=OLD_BLOB)
    _, draft = await create_dandiset(session, owner=(await create_user(session))[0])
    await create_asset(session, version=draft, path="sub-01/sub-01.nwb", blob=used)

    report = await collect(session, storage, GC, now=NOW)

    assert (report.orphan_blobs.count, report.orphan_blobs.listed) == (1, [str(orphan.id)])
    assert report.orphan_blobs.total_bytes == orphan.size
    assert report.errors == []
    assert not await object_exists(storage, orphan)
    assert not await blob_exists(session, orphan)
    for kept in (recent, touched, used):
        assert await object_exists(storage, kept)
        assert await blob_exists(session, kept)


async def test_a_blob_an_asset_is_being_created_on_is_skipped(
    engine: AsyncEngine, session: AsyncSession, storage: S3Storage
) -> None:
    """An asset insert's foreign-key check holds FOR KEY SHARE on the blob until it commits;
    GC skips the locked row instead of deleting a blob about to be used."""
    content = os.urandom(32)
    blob_id = uuid.uuid4()
    row = {
        "id": blob_id,
        "etag": dandi_etag(content),
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "created": OLD_BLOB,
        "modified": OLD_BLOB,
    }
    async with engine.begin() as conn:  # committed: the other transaction must see it
        await conn.execute(insert(AssetBlob).values(**row))
    try:
        async with engine.connect() as other:
            await other.begin()
            lock = "SELECT 1 FROM asset_blobs WHERE id = :id FOR KEY SHARE"
            await other.execute(text(lock), {"id": blob_id})

            report = await collect(session, storage, GC, now=NOW)

            assert str(blob_id) not in report.orphan_blobs.listed
            assert await session.get(AssetBlob, blob_id) is not None
            await other.rollback()
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(AssetBlob).where(AssetBlob.id == blob_id))


# -- dry run, repeats, the job ---------------------------------------------------------------


async def garbage(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> tuple[Upload, tuple[str, str], AssetBlob]:
    """One item of each kind: an old upload, an S3 upload without a row, an orphan blob."""
    upload = await start_upload(session, storage, dandiset, created=OLD_UPLOAD)
    key = blob_key(uuid.uuid4())
    untracked = (key, await storage.create_multipart_upload(key))
    return upload, untracked, await stored_blob(session, storage, changed=OLD_BLOB)


def without_mode(report: GcReport) -> dict[str, Any]:
    return report.model_dump(exclude={"dry_run"})


async def test_a_dry_run_changes_nothing_and_reports_what_a_run_does(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> None:
    upload, (key, multipart_id), blob = await garbage(session, storage, dandiset)
    later = datetime.now(UTC) + timedelta(days=8)  # past the S3 upload's age too

    dry = await collect(session, storage, GC, now=later, dry_run=True)

    assert dry.dry_run
    assert dry.uploads.listed == [str(upload.id)]
    assert key in dry.untracked_uploads.listed
    assert dry.orphan_blobs.listed == [str(blob.id)]
    assert await upload_exists(session, upload.id)
    assert await in_progress(storage, blob_key(upload.id), upload.multipart_upload_id)
    assert await in_progress(storage, key, multipart_id)
    assert await blob_exists(session, blob)
    assert await object_exists(storage, blob)

    real = await collect(session, storage, GC, now=later)

    assert not real.dry_run
    assert without_mode(dry) == without_mode(real)
    assert not await upload_exists(session, upload.id)
    assert not await in_progress(storage, key, multipart_id)
    assert not await object_exists(storage, blob)


async def test_a_second_run_finds_nothing_left(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> None:
    await garbage(session, storage, dandiset)
    later = datetime.now(UTC) + timedelta(days=8)
    await collect(session, storage, GC, now=later)

    second = await collect(session, storage, GC, now=later)

    assert (second.uploads.count, second.untracked_uploads.count) == (0, 0)
    assert (second.orphan_blobs.count, second.errors) == (0, [])


async def test_a_full_batch_leaves_the_rest_for_the_next_run(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> None:
    uploads = [await start_upload(session, storage, dandiset, created=OLD_UPLOAD) for _ in "abc"]
    small = GC.model_copy(update={"batch_size": 2})

    first = await collect(session, storage, small, now=NOW)
    second = await collect(session, storage, small, now=NOW)

    assert (first.uploads.count, first.uploads.batch_full) == (2, True)
    assert (second.uploads.count, second.uploads.batch_full) == (1, False)
    assert {*first.uploads.listed, *second.uploads.listed} == {str(u.id) for u in uploads}


async def test_the_scheduled_job_collects_and_commits(
    settings: Settings,
    db: Database,
    job_queue: JobQueue,
    storage: S3Storage,
    session: AsyncSession,
    dandiset: Dandiset,
) -> None:
    upload = await start_upload(
        session, storage, dandiset, created=datetime.now(UTC) - timedelta(days=8)
    )
    await session.commit()  # a savepoint of the test's transaction: the job's session sees it
    ctx = ingest_context(settings, db, job_queue, storage)

    result = await collect_garbage(ctx)

    assert str(upload.id) in result["uploads"]["listed"]
    assert not await upload_exists(session, upload.id)
    assert not await in_progress(storage, blob_key(upload.id), upload.multipart_upload_id)


# -- settings and schedule -------------------------------------------------------------------


def test_the_cron_runs_every_interval_and_can_be_switched_off() -> None:
    assert schedule(15) == ({0, 15, 30, 45}, None)
    assert schedule(60) == ({0}, None)
    assert schedule(360) == ({0}, {0, 6, 12, 18})
    job = gc_cron(Settings(gc=GcSettings(interval_minutes=20)))
    assert job is not None
    assert (job.name, job.minute, job.hour, job.unique) == (
        "collect_garbage",
        {0, 20, 40},
        None,
        True,
    )
    assert gc_cron(Settings(gc=GcSettings(cron_enabled=False))) is None


@pytest.mark.parametrize("minutes", [7, 90, 1000])
def test_an_interval_a_cron_cannot_keep_is_refused(minutes: int) -> None:
    with pytest.raises(ValidationError, match="must divide 60"):
        GcSettings(interval_minutes=minutes)


def test_uploads_are_never_collected_while_their_urls_work() -> None:
    with pytest.raises(ValidationError, match="UPLOAD_MAX_AGE_HOURS is shorter"):
        Settings(gc=GcSettings(upload_max_age_hours=24))
    shorter_urls = S3Settings(upload_url_expiry_seconds=3600)
    settings = Settings(s3=shorter_urls, gc=GcSettings(upload_max_age_hours=24))
    assert settings.gc.upload_max_age_hours == 24


def test_gc_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANDELION_GC__ORPHAN_BLOB_RESTORE_DAYS", "45")
    monkeypatch.setenv("DANDELION_GC__INTERVAL_MINUTES", "30")
    gc = Settings().gc
    assert (gc.orphan_blob_restore_days, gc.interval_minutes, gc.upload_max_age_hours) == (
        45,
        30,
        168,
    )


# -- zarr object versions ------------------------------------------------------------------

LATER = NOW + timedelta(days=8)  # every zarr key below is then past the 7-day grace


async def put_version(storage: S3Storage, key: str, data: bytes) -> str:
    """Write the object; returns the version id it got in the versioned zarr bucket."""
    await storage.zarr.put(key, data)
    (page,) = [page async for page in storage.zarr.latest_versions(key)]
    (current,) = [o for o in page if o.key == key]
    assert current.version_id is not None
    return current.version_id


async def snapshot_of(
    session: AsyncSession, archive: ZarrArchive, entries: dict[str, str]
) -> ZarrSnapshot:
    snapshot = ZarrSnapshot(zarr_id=archive.id, checksum="x", file_count=len(entries), size=1)
    session.add(snapshot)
    await session.flush()
    session.add_all(
        ZarrSnapshotEntry(
            snapshot_id=snapshot.id,
            path=path,
            s3_version_id=version,
            md5="0" * 32,
            size=1,
            last_modified=NOW,
        )
        for path, version in entries.items()
    )
    await session.flush()
    return snapshot


@pytest.fixture
async def edited_zarr(
    session: AsyncSession, storage: S3Storage, dandiset: Dandiset
) -> tuple[ZarrArchive, dict[str, str]]:
    """A Complete archive published once (snapshot 1), then edited and ingested (snapshot 2):
    b2 and c1 are older versions no snapshot names; a1 and b1 are the published version's."""
    archive = ZarrArchive(dandiset_id=dandiset.id, name="x.zarr", status=ZarrStatus.COMPLETE)
    session.add(archive)
    await session.flush()

    def key(path: str) -> str:
        return zarr_key(archive.id, path)

    v = {"a1": await put_version(storage, key("0/a"), b"a1")}
    v["b1"] = await put_version(storage, key("0/b"), b"b1")
    await snapshot_of(session, archive, {"0/a": v["a1"], "0/b": v["b1"]})
    for name, path in (("a2", "0/a"), ("b2", "0/b"), ("b3", "0/b"), ("c1", "0/c")):
        v[name] = await put_version(storage, key(path), name.encode())
    await storage.zarr.delete_many([key("0/c")])
    await snapshot_of(session, archive, {"0/a": v["a2"], "0/b": v["b3"]})
    return archive, v


async def versions_left(storage: S3Storage, archive: ZarrArchive) -> set[str]:
    pages = [page async for page in storage.zarr.versions(zarr_key(archive.id))]
    return {v.version_id for page in pages for v in page if not v.delete_marker}


async def test_zarr_versions_no_snapshot_names_are_deleted_once(
    session: AsyncSession, storage: S3Storage, edited_zarr: tuple[ZarrArchive, dict[str, str]]
) -> None:
    archive, v = edited_zarr
    report = await collect(session, storage, GC, now=LATER)
    assert report.zarr_versions.count == 2
    assert {v["a1"], v["a2"], v["b1"], v["b3"]} == await versions_left(storage, archive)
    assert await storage.zarr.count_versions(zarr_key(archive.id)) == (4, 1)  # the marker stays
    again = await collect(session, storage, GC, now=LATER)
    assert again.zarr_versions.count == 0  # visited: not again before the archive changes


async def test_zarr_versions_are_kept_within_the_grace_and_in_a_dry_run(
    session: AsyncSession, storage: S3Storage, edited_zarr: tuple[ZarrArchive, dict[str, str]]
) -> None:
    archive, v = edited_zarr
    everything = set(v.values())
    assert (await collect(session, storage, GC, now=NOW)).zarr_versions.count == 0
    dry = await collect(session, storage, GC, now=LATER, dry_run=True)
    assert dry.zarr_versions.count == 2
    assert await versions_left(storage, archive) == everything
    # Keys written after the cutoff are passed over, and the archive is visited again later.
    await session.execute(
        update(ZarrArchive).where(ZarrArchive.id == archive.id).values(modified=OLD_UPLOAD)
    )
    assert (await collect(session, storage, GC, now=NOW)).zarr_versions.count == 0
    assert await versions_left(storage, archive) == everything
    assert (await collect(session, storage, GC, now=LATER)).zarr_versions.count == 2


async def test_a_zarr_archive_that_is_not_complete_is_left_alone(
    session: AsyncSession, storage: S3Storage, edited_zarr: tuple[ZarrArchive, dict[str, str]]
) -> None:
    archive, v = edited_zarr
    archive.status = ZarrStatus.INGESTING
    await session.flush()
    assert (await collect(session, storage, GC, now=LATER)).zarr_versions.count == 0
    assert await versions_left(storage, archive) == set(v.values())
