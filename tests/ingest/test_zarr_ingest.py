"""The Zarr ingest job against real PostgreSQL, Redis and S3 (a versioned zarr bucket): the
checksum is the dandi client's own, runs are idempotent and restartable, a change during a
run discards it, and the draft's zarr assets, sizes and folders follow the new snapshot while
published versions keep theirs; an unembargo untags the archive's objects.

S3 outlives the test's rolled-back transaction, so every archive a test writes is its own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import zarr
from arq import Retry
from arq.constants import job_key_prefix
from conftest import ingest_context
from factories import create_asset, create_blob, create_dandiset, create_user, outbox_rows
from s3 import object_tags
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from zarr_checksum import compute_zarr_checksum
from zarr_checksum.checksum import EMPTY_CHECKSUM
from zarr_checksum.generators import ZarrArchiveFile

from dandelion_common import asset_paths
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
from dandelion_common.db.session import Database
from dandelion_common.jobs.contracts import VALIDATE_ZARR_ASSET, ZarrAssetRef, ZarrRef
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Environment, Settings
from dandelion_common.storage import S3Storage, zarr_key
from dandelion_ingest import embargo
from dandelion_ingest import zarr as ingest
from dandelion_ingest.resources import ingest_resources
from dandelion_ingest.zarr import StreamingZarrChecksum
from dandelion_ingest.zarr import checksum as streaming

Ctx = dict[str, Any]
ZARR_PATH = "sub-1/sub-1_sample.ome.zarr"
NWB_PATH = "sub-1/sub-1_ecephys.nwb"


@pytest.fixture
def ctx(settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage) -> Ctx:
    return ingest_context(settings, db, job_queue, storage)


# -- the checksum on its own -------------------------------------------------------------------


def reference_checksum(files: dict[str, tuple[str, int]]) -> str:
    """zarr_checksum's own tree over (path, md5, size) items, in any order."""
    items = (ZarrArchiveFile(Path(p), size, md5) for p, (md5, size) in files.items())
    return str(compute_zarr_checksum(items))


def streamed_checksum(files: dict[str, tuple[str, int]]) -> str:
    with StreamingZarrChecksum() as tree:
        for path in sorted(files, key=str.encode):  # S3's and PostgreSQL's C order
            md5, size = files[path]
            tree.add(path, md5, size)
        return tree.digest().checksum


def test_streaming_checksum_is_zarr_checksums_on_awkward_names() -> None:
    # Names sorting around "/" ("a-b/x" < "a/x" < "ab/x"), a file beside a folder of the same
    # name, non-ASCII names (escaped in the hashed JSON): every ordering trap at once.
    rng = random.Random(7)
    names = ["a", "b", "a-b", "a.b", "ab", "0", "0.0", ".zarray", "é", "x y", "A", "~"]
    for _ in range(200):
        files = {}
        for _ in range(rng.randint(1, 60)):
            path = "/".join(rng.choice(names) for _ in range(rng.randint(1, 4)))
            files[path] = (hashlib.md5(path.encode()).hexdigest(), rng.randint(0, 10_000))
        assert streamed_checksum(files) == reference_checksum(files), sorted(files)


def test_streaming_checksum_spills_a_large_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "SPOOL_BYTES", 1024)  # the folder's file list goes to disk
    files = {f"0/{i}": (hashlib.md5(str(i).encode()).hexdigest(), i) for i in range(500)}
    assert streamed_checksum(files) == reference_checksum(files)


def test_empty_and_unordered_inputs() -> None:
    assert streamed_checksum({}) == EMPTY_CHECKSUM
    with StreamingZarrChecksum() as tree:
        tree.add("b", "0" * 32, 1)
        with pytest.raises(ValueError, match="increasing order"):
            tree.add("a", "0" * 32, 1)


# -- scenes ----------------------------------------------------------------------------------


def write_zarr(root: Path) -> None:
    """A zarr-python group (v2): one array with "." chunk keys in one folder, one nested
    array with "/" keys, attributes; plus plain files whose names sort around "/"."""
    rng = np.random.default_rng(3)
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}]}]
    flat = group.create_array("0", shape=(40, 40), chunks=(4, 4), dtype="uint8")
    flat[:] = rng.integers(0, 255, size=(40, 40), dtype="uint8")
    nested = group.create_group("labels").create_array(
        "cells", shape=(8, 16, 16), chunks=(2, 4, 4), dtype="uint16",
        chunk_key_encoding={"name": "v2", "separator": "/"},
    )  # fmt: skip
    nested[:] = rng.integers(1, 5, size=(8, 16, 16), dtype="uint16")
    for name in ("a-b/x", "a/x", "a.b", "ab/x", "é/x"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode() * 3)


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def upload(storage: S3Storage, zarr_id: uuid.UUID, files: dict[str, bytes]) -> None:
    gate = asyncio.Semaphore(32)

    async def put(path: str, data: bytes) -> None:
        async with gate:
            await storage.zarr.put(zarr_key(zarr_id, path), data)

    await asyncio.gather(*(put(p, d) for p, d in files.items()))


def size_of(files: dict[str, bytes]) -> int:
    return sum(len(d) for d in files.values())


@dataclass
class Scene:
    """A draft holding a zarr asset (no snapshot yet) beside an NWB asset in one folder."""

    archive: ZarrArchive
    draft: Version
    asset: Asset
    nwb_size: int

    @property
    def zarr_id(self) -> uuid.UUID:
        return self.archive.id


async def scene(session: AsyncSession, *, status: ZarrStatus = ZarrStatus.UPLOADED) -> Scene:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    blob = await create_blob(session, content=f"nwb of {dandiset.id}".encode())
    nwb = await create_asset(session, version=draft, path=NWB_PATH, blob=blob)
    archive = ZarrArchive(dandiset_id=dandiset.id, name=ZARR_PATH, status=status)
    session.add(archive)
    await session.flush()
    asset = Asset(
        path=ZARR_PATH, zarr_id=archive.id, metadata_={"path": ZARR_PATH, "schemaKey": "Asset"}
    )
    session.add(asset)
    await session.flush()
    session.add(VersionAsset(version_id=draft.id, asset_id=asset.id, path=ZARR_PATH))
    draft.asset_count += 1
    nwb_size = draft.size
    # The folder tree as the API keeps it: the zarr asset counts 0 bytes until ingested.
    await asset_paths.add(session, draft.id, NWB_PATH, nwb.id, nwb_size)
    await asset_paths.add(session, draft.id, ZARR_PATH, asset.id, 0)
    draft.status = VersionStatus.VALID
    await session.flush()
    return Scene(archive, draft, asset, nwb_size)


async def run(ctx: Ctx, zarr_id: uuid.UUID) -> str:
    result: str = await ingest.ingest_zarr.coroutine(ctx, **ZarrRef(zarr_id=zarr_id).model_dump())
    return result


async def set_status(session: AsyncSession, archive: ZarrArchive, status: ZarrStatus) -> None:
    """What the API does (files changed: Pending; finalized: Uploaded), whatever the job's
    sessions did to the row since this session loaded it."""
    await session.refresh(archive)
    archive.status = status
    await session.flush()


async def fresh(session: AsyncSession, row: Any) -> Any:
    await session.refresh(row)
    return row


async def snapshots(session: AsyncSession, zarr_id: uuid.UUID) -> list[ZarrSnapshot]:
    query = (
        select(ZarrSnapshot)
        .where(ZarrSnapshot.zarr_id == zarr_id)
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(query))


async def entries(session: AsyncSession, snapshot_id: uuid.UUID) -> dict[str, tuple[str, int]]:
    query = select(ZarrSnapshotEntry).where(ZarrSnapshotEntry.snapshot_id == snapshot_id)
    return {e.path: (e.md5, e.size) for e in await session.scalars(query)}


async def paths_of(session: AsyncSession, version_id: int) -> dict[str, tuple[Any, int]]:
    query = select(AssetPath).where(AssetPath.version_id == version_id)
    query = query.execution_options(populate_existing=True)
    return {p.path: (p.asset_id, p.aggregate_size) for p in await session.scalars(query)}


async def draft_asset(session: AsyncSession, draft: Version) -> Asset:
    query = (
        select(Asset)
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .where(VersionAsset.version_id == draft.id, Asset.path == ZARR_PATH)
        .execution_options(populate_existing=True)
    )
    asset = await session.scalar(query)
    assert asset is not None
    return asset


async def validation_asked(job_queue: JobQueue, asset_id: uuid.UUID, snapshot_id: Any) -> bool:
    payload = ZarrAssetRef(asset_id=asset_id, snapshot_id=snapshot_id)
    return bool(
        await job_queue.redis.exists(job_key_prefix + str(VALIDATE_ZARR_ASSET.job_id(payload)))
    )


# -- the job -----------------------------------------------------------------------------------


async def test_the_checksum_is_the_dandi_clients(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, job_queue: JobQueue, tmp_path: Path
) -> None:
    from dandi.support.digests import get_zarr_checksum

    write_zarr(tmp_path)
    files = local_files(tmp_path)
    assert len(files) > 150
    s = await scene(session)
    await upload(storage, s.zarr_id, files)

    checksum = await run(ctx, s.zarr_id)

    assert checksum == get_zarr_checksum(tmp_path)
    archive = await fresh(session, s.archive)
    assert archive.status is ZarrStatus.COMPLETE
    assert (archive.checksum, archive.file_count, archive.size) == (
        checksum, len(files), size_of(files),
    )  # fmt: skip
    (snapshot,) = await snapshots(session, s.zarr_id)
    assert archive.snapshot_id == snapshot.id
    assert (snapshot.checksum, snapshot.file_count, snapshot.size) == (
        checksum, len(files), size_of(files),
    )  # fmt: skip
    stored = await entries(session, snapshot.id)
    assert stored == {p: (hashlib.md5(d).hexdigest(), len(d)) for p, d in files.items()}
    # Each entry names the object version holding its bytes.
    query = select(ZarrSnapshotEntry).where(
        ZarrSnapshotEntry.snapshot_id == snapshot.id, ZarrSnapshotEntry.path == "a-b/x"
    )
    entry = await session.scalar(query)
    assert entry is not None
    listed = [
        o async for page in storage.zarr.latest_versions(zarr_key(s.zarr_id, "a-b/")) for o in page
    ]
    assert [o.version_id for o in listed] == [entry.s3_version_id]
    assert await validation_asked(job_queue, s.asset.id, snapshot.id)


async def test_only_uploaded_or_ingesting_archives_are_ingested(
    ctx: Ctx, session: AsyncSession
) -> None:
    for status in (ZarrStatus.PENDING, ZarrStatus.COMPLETE):
        s = await scene(session, status=status)
        assert await run(ctx, s.zarr_id) == "nothing to ingest"
        assert (await fresh(session, s.archive)).status is status
        assert await snapshots(session, s.zarr_id) == []
    assert await run(ctx, uuid.uuid4()) == "nothing to ingest"


async def test_running_twice_makes_one_snapshot(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    s = await scene(session)
    await upload(storage, s.zarr_id, {"0/0": b"x" * 10, ".zattrs": b"{}"})
    first = await run(ctx, s.zarr_id)
    assert await run(ctx, s.zarr_id) == "nothing to ingest"
    assert [x.checksum for x in await snapshots(session, s.zarr_id)] == [first]


async def test_a_killed_run_is_continued_to_the_same_snapshot(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, tmp_path: Path
) -> None:
    write_zarr(tmp_path)
    files = local_files(tmp_path)
    s = await scene(session)
    await upload(storage, s.zarr_id, files)

    # The first run stops (as at its deadline, or killed) after one batch of 40 entries.
    snapshot_id = await ingest.start(ctx, s.zarr_id)
    assert snapshot_id is not None
    assert (await fresh(session, s.archive)).status is ZarrStatus.INGESTING
    with pytest.raises(Retry):
        await ingest.record_entries(ctx, s.zarr_id, snapshot_id, deadline=0.0, batch=40)
    assert len(await entries(session, snapshot_id)) == 40

    checksum = await run(ctx, s.zarr_id)

    expected = {p: (hashlib.md5(d).hexdigest(), len(d)) for p, d in files.items()}
    assert checksum == reference_checksum(expected)
    (snapshot,) = await snapshots(session, s.zarr_id)
    assert snapshot.id == snapshot_id  # continued, not started over
    assert await entries(session, snapshot_id) == expected


async def test_a_run_after_a_change_starts_over(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    s = await scene(session)
    await upload(storage, s.zarr_id, {f"0/{i}": b"old" for i in range(10)})
    stale = await ingest.start(ctx, s.zarr_id)
    assert stale is not None
    await ingest.record_entries(ctx, s.zarr_id, stale, deadline=float("inf"))
    # The run dies; files change (Pending) and the archive is finalized again (Uploaded).
    await storage.zarr.delete_many([zarr_key(s.zarr_id, "0/0")])
    await set_status(session, s.archive, ZarrStatus.UPLOADED)

    checksum = await run(ctx, s.zarr_id)

    (snapshot,) = await snapshots(session, s.zarr_id)
    assert snapshot.id != stale
    assert snapshot.file_count == 9
    assert checksum == reference_checksum(
        {f"0/{i}": (hashlib.md5(b"old").hexdigest(), 3) for i in range(1, 10)}
    )


async def test_a_change_during_the_run_discards_it(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    s = await scene(session)
    await upload(storage, s.zarr_id, {"0/0": b"abc"})
    snapshot_id = await ingest.start(ctx, s.zarr_id)
    assert snapshot_id is not None
    await ingest.record_entries(ctx, s.zarr_id, snapshot_id, deadline=float("inf"))
    digest = await ingest.checksum_of(ctx, snapshot_id)
    await set_status(session, s.archive, ZarrStatus.PENDING)  # the API handed out upload URLs

    assert await ingest.finish(ctx, s.zarr_id, snapshot_id, digest) == "changed"

    assert await snapshots(session, s.zarr_id) == []
    archive = await fresh(session, s.archive)
    assert (archive.status, archive.snapshot_id) == (ZarrStatus.PENDING, None)
    assert (await draft_asset(session, s.draft)).zarr_snapshot_id is None


async def test_finalized_again_during_the_run_ingests_again(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    s = await scene(session)
    await upload(storage, s.zarr_id, {"0/0": b"abc"})
    snapshot_id = await ingest.start(ctx, s.zarr_id)
    assert snapshot_id is not None
    digest = await ingest.checksum_of(ctx, snapshot_id)
    await set_status(session, s.archive, ZarrStatus.UPLOADED)
    assert await ingest.finish(ctx, s.zarr_id, snapshot_id, digest) == "refinalized"
    assert await snapshots(session, s.zarr_id) == []


async def test_an_unpublished_asset_is_updated_in_place(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, job_queue: JobQueue
) -> None:
    s = await scene(session)
    files = {f"0/{i}": bytes(100 + i) for i in range(20)}
    await upload(storage, s.zarr_id, files)
    revision = s.draft.assets_revision

    await run(ctx, s.zarr_id)

    (snapshot,) = await snapshots(session, s.zarr_id)
    asset = await draft_asset(session, s.draft)
    assert asset.id == s.asset.id
    assert (asset.zarr_snapshot_id, asset.status, asset.validation_errors) == (
        snapshot.id, AssetStatus.PENDING, [],
    )  # fmt: skip
    draft = await fresh(session, s.draft)
    zarr_size = size_of(files)
    assert draft.size == s.nwb_size + zarr_size
    assert (draft.status, draft.assets_revision) == (VersionStatus.PENDING, revision + 1)
    tree = await paths_of(session, draft.id)
    assert tree["sub-1"] == (None, s.nwb_size + zarr_size)
    assert tree[ZARR_PATH] == (asset.id, zarr_size)
    assert await outbox_rows(session, OutboxEntity.ASSET, asset.id) == 1
    assert await outbox_rows(session, OutboxEntity.VERSION, draft.id) == 1

    # A second upload: the sizes move from the old snapshot's to the new one's, and the old
    # snapshot, which nothing points to any more, is deleted with its entries.
    await upload(storage, s.zarr_id, {"1/0": bytes(1000)})
    await set_status(session, s.archive, ZarrStatus.UPLOADED)
    await run(ctx, s.zarr_id)

    (newer,) = await snapshots(session, s.zarr_id)
    assert newer.id != snapshot.id
    assert newer.size == zarr_size + 1000
    assert await entries(session, snapshot.id) == {}
    assert (await draft_asset(session, s.draft)).zarr_snapshot_id == newer.id
    assert (await fresh(session, s.draft)).size == s.nwb_size + zarr_size + 1000
    tree = await paths_of(session, draft.id)
    assert tree["sub-1"] == (None, s.nwb_size + zarr_size + 1000)
    assert tree[ZARR_PATH] == (asset.id, zarr_size + 1000)
    assert await validation_asked(job_queue, asset.id, newer.id)


async def held(session: AsyncSession, version: Version) -> set[uuid.UUID]:
    query = select(VersionAsset.asset_id).where(VersionAsset.version_id == version.id)
    return set(await session.scalars(query))


async def publish(session: AsyncSession, draft: Version) -> Version:
    """What the publish job leaves: a version sharing the draft's rows, the assets frozen."""
    published = Version(
        dandiset_id=draft.dandiset_id, version="0.261124.1200", name=draft.name,
        metadata_={}, status=VersionStatus.VALID, size=draft.size,
    )  # fmt: skip
    session.add(published)
    await session.flush()
    for held in await session.scalars(
        select(VersionAsset).where(VersionAsset.version_id == draft.id)
    ):
        session.add(VersionAsset(version_id=published.id, asset_id=held.asset_id, path=held.path))
        asset = await session.get(Asset, held.asset_id)
        assert asset is not None
        asset.published = True
        asset.metadata_ = {**asset.metadata_, "datePublished": "2026-11-24T12:00:00+00:00"}
    for node in await session.scalars(select(AssetPath).where(AssetPath.version_id == draft.id)):
        session.add(
            AssetPath(version_id=published.id, path=node.path, parent=node.parent,
                      asset_id=node.asset_id, aggregate_files=node.aggregate_files,
                      aggregate_size=node.aggregate_size)
        )  # fmt: skip
    await session.flush()
    return published


async def test_a_published_asset_is_replaced_in_the_draft_only(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, job_queue: JobQueue
) -> None:
    s = await scene(session)
    await upload(storage, s.zarr_id, {"0/0": bytes(300)})
    published_checksum = await run(ctx, s.zarr_id)
    (first,) = await snapshots(session, s.zarr_id)
    published = await publish(session, s.draft)
    held_when_published = await held(session, published)
    assert s.asset.id in held_when_published

    await upload(storage, s.zarr_id, {"0/0": bytes(500)})  # a new version of the same key
    await set_status(session, s.archive, ZarrStatus.UPLOADED)
    await run(ctx, s.zarr_id)

    replacement = await draft_asset(session, s.draft)
    assert replacement.id != s.asset.id
    assert (replacement.path, replacement.zarr_id, replacement.published) == (
        ZARR_PATH, s.zarr_id, False,
    )  # fmt: skip
    assert replacement.status is AssetStatus.PENDING
    assert "datePublished" not in replacement.metadata_
    second = await session.get(ZarrSnapshot, replacement.zarr_snapshot_id)
    assert second is not None
    assert second.size == 500
    # The published version still holds the old row, its snapshot, and that snapshot's entry.
    old = await fresh(session, s.asset)
    assert (old.published, old.zarr_snapshot_id) == (True, first.id)
    assert await held(session, published) == held_when_published
    assert {first.id, second.id} == {x.id for x in await snapshots(session, s.zarr_id)}
    assert first.checksum == published_checksum
    (old_entry,) = (await entries(session, first.id)).values()
    assert old_entry == (hashlib.md5(bytes(300)).hexdigest(), 300)
    assert (await paths_of(session, published.id))[ZARR_PATH] == (s.asset.id, 300)
    draft_tree = await paths_of(session, s.draft.id)
    assert draft_tree[ZARR_PATH] == (replacement.id, 500)
    assert draft_tree["sub-1"] == (None, s.nwb_size + 500)
    assert (await fresh(session, s.draft)).size == s.nwb_size + 500
    assert await outbox_rows(session, OutboxEntity.ASSET, replacement.id) == 1
    assert await validation_asked(job_queue, replacement.id, second.id)


async def test_an_empty_archive_has_the_empty_checksum(ctx: Ctx, session: AsyncSession) -> None:
    s = await scene(session)
    assert await run(ctx, s.zarr_id) == EMPTY_CHECKSUM
    archive = await fresh(session, s.archive)
    assert (archive.status, archive.file_count, archive.size) == (ZarrStatus.COMPLETE, 0, 0)
    assert (await draft_asset(session, s.draft)).zarr_snapshot_id == archive.snapshot_id


async def test_a_publishing_draft_defers_the_finish(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    s = await scene(session)
    await upload(storage, s.zarr_id, {"0/0": b"abc"})
    s.draft.status = VersionStatus.PUBLISHING
    await session.flush()
    with pytest.raises(Retry):
        await run(ctx, s.zarr_id)
    assert (await fresh(session, s.archive)).status is ZarrStatus.INGESTING
    s.draft.status = VersionStatus.VALID  # published meanwhile, say
    await session.flush()
    assert await run(ctx, s.zarr_id) == reference_checksum(
        {"0/0": (hashlib.md5(b"abc").hexdigest(), 3)}
    )
    count = select(func.count()).select_from(ZarrSnapshot).where(ZarrSnapshot.zarr_id == s.zarr_id)
    assert await session.scalar(count) == 1


# -- unembargo -------------------------------------------------------------------------------


async def put_tagged(storage: S3Storage, key: str, data: bytes) -> None:
    """As the client uploads into an embargoed dandiset: presigned PUT, MD5 and tag signed."""
    content_md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    url = await storage.zarr.presign_put(key, content_md5=content_md5, tagging="embargoed=true")
    headers = {"Content-MD5": content_md5, "x-amz-tagging": "embargoed=true"}
    async with aiohttp.ClientSession() as client, client.put(url, data=data, headers=headers) as r:
        assert r.status == 200, await r.text()


async def test_unembargo_untags_the_zarr_objects(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    s = await scene(session)
    keys = [zarr_key(s.zarr_id, p) for p in (".zattrs", "0/0", "0/1")]
    for key in keys:
        await put_tagged(storage, key, key.encode())
    assert await object_tags(storage.zarr, keys[0]) == {"embargoed": "true"}

    assert await embargo.untag_zarrs(ctx, s.archive.dandiset_id) == 3
    assert [await object_tags(storage.zarr, key) for key in keys] == [{}, {}, {}]
    assert await embargo.untag_zarrs(ctx, s.archive.dandiset_id) == 3  # a repeat is harmless


async def unversioned_storage(settings: Settings, *, create: bool = True) -> S3Storage:
    """Storage whose zarr bucket is fresh and, unlike the suite's, keeps no versions."""
    name = f"unversioned-{uuid.uuid4().hex[:12]}"
    store = await S3Storage.connect(settings.s3.model_copy(update={"zarr_bucket": name}))
    if create:
        await store.zarr.ensure_bucket()  # the sibling creates its bucket, versioning untouched
    return store


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.PRODUCTION])
async def test_the_worker_starts_on_a_versioned_zarr_bucket(
    ctx: Ctx, settings: Settings, environment: Environment
) -> None:
    ingest_resources(ctx).settings = settings.model_copy(update={"environment": environment})
    await ingest.check_zarr_bucket_versioned(ctx)


check = ingest.check_zarr_bucket_versioned


async def test_production_refuses_an_unversioned_zarr_bucket_and_development_warns(
    settings: Settings, db: Database, job_queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    store = await unversioned_storage(settings)
    try:
        production = settings.model_copy(update={"environment": Environment.PRODUCTION})
        with pytest.raises(ingest.UnversionedZarrBucket, match=store.zarr.bucket):
            await ingest.check_zarr_bucket_versioned(
                ingest_context(production, db, job_queue, store)
            )
        with caplog.at_level("WARNING", logger="dandelion.ingest.zarr"):
            await ingest.check_zarr_bucket_versioned(ingest_context(settings, db, job_queue, store))
        assert "does not have S3 object versioning enabled" in caplog.text
    finally:
        await store.close()


async def test_a_zarr_bucket_s3_cannot_describe_does_not_stop_the_worker(
    settings: Settings, db: Database, job_queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    store = await unversioned_storage(settings, create=False)  # no such bucket
    try:
        production = settings.model_copy(update={"environment": Environment.PRODUCTION})
        with caplog.at_level("WARNING", logger="dandelion.ingest.zarr"):
            await ingest.check_zarr_bucket_versioned(
                ingest_context(production, db, job_queue, store)
            )
        assert "zarr bucket versioning unknown" in caplog.text
    finally:
        await store.close()
