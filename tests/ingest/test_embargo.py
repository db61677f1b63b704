"""The unembargo job against real PostgreSQL, Redis and S3: objects move to the public prefix
untagged, flags flip, the dandiset opens with its draft and assets Pending and asked to
validate again; a second run and a run after a crash at any step finish the work without
losing or leaving anything. Also the storage calls the job is built on.

S3 outlives the test's rolled-back transaction, so every key a test checks is its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from arq import Retry
from arq.constants import job_key_prefix, result_key_prefix
from conftest import ingest_context
from factories import create_asset, create_blob, create_dandiset, create_extract, create_user
from s3 import object_tags, read_range
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import (
    AssetStatus,
    DoiTarget,
    EmbargoStatus,
    OutboxEntity,
    VersionStatus,
)
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    AuditRecord,
    Dandiset,
    Doi,
    SearchOutbox,
    User,
    Version,
)
from dandelion_common.db.session import Database
from dandelion_common.devstack.process import free_port
from dandelion_common.dois import concept_doi
from dandelion_common.errors import StorageError
from dandelion_common.jobs.contracts import (
    REVALIDATE_UNEMBARGOED_ASSET,
    VALIDATE_ASSET,
    VALIDATE_VERSION,
    AssetRef,
    UnembargoRequest,
    VersionRevision,
)
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.resources import job_context
from dandelion_common.metadata import full_metadata
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest import embargo
from dandelion_ingest.resources import ingest_resources
from dandelion_ingest.tasks import validate_asset, validate_version

MiB = 1024 * 1024
PUBLISHABLE = {
    "schemaKey": "Dandiset",
    "schemaVersion": SCHEMA_VERSION,
    "description": "Extracellular recordings in mouse V1.",
    "license": ["spdx:CC-BY-4.0"],
    "contributor": [
        {
            "schemaKey": "Person", "name": "Doe, Jane", "email": "jane@example.org",
            "roleName": ["dcite:ContactPerson"], "includeInCitation": True, "affiliation": [],
        }
    ],
}  # fmt: skip

Ctx = dict[str, Any]


@pytest.fixture
def ctx(settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage) -> Ctx:
    return ingest_context(settings, db, job_queue, storage)


async def put_embargoed(storage: S3Storage, blob_id: uuid.UUID, content: bytes) -> None:
    """The object as an upload into an embargoed dandiset leaves it: embargoed key and tag."""
    key = blob_key(blob_id, embargoed=True)
    upload_id = await storage.create_multipart_upload(key, tagging="embargoed=true")
    etag = await storage.upload_part(key, upload_id, 1, content)
    await storage.complete_multipart_upload(key, upload_id, [(1, etag)])


@dataclass
class Scene:
    """An UNEMBARGOING dandiset whose Valid assets each have an embargoed blob in S3."""

    dandiset: Dandiset
    draft: Version
    owner: User
    assets: list[Asset] = field(default_factory=list)
    contents: dict[uuid.UUID, bytes] = field(default_factory=dict)  # by blob id

    def payload(self) -> dict[str, Any]:
        request = UnembargoRequest(dandiset_id=self.dandiset.id, user_id=self.owner.id)
        return request.model_dump()

    @property
    def blob_ids(self) -> list[uuid.UUID]:
        return list(self.contents)


async def add_embargoed_asset(
    session: AsyncSession, storage: S3Storage, scene: Scene, content: bytes, path: str
) -> Asset:
    blob = await create_blob(session, content=content)
    blob.embargoed = True
    await create_extract(session, blob, metadata={})
    await put_embargoed(storage, blob.id, content)
    asset = await create_asset(session, version=scene.draft, path=path, blob=blob)
    # What the API stores for a client's metadata (strip_asset_computed).
    asset.metadata_ = {
        **asset.metadata_,
        "encodingFormat": "application/x-nwb",
        "schemaVersion": SCHEMA_VERSION,
    }
    asset.status = AssetStatus.VALID
    await session.flush()
    scene.assets.append(asset)
    scene.contents[blob.id] = content
    return asset


async def unembargoing(
    session: AsyncSession, storage: S3Storage, *, files: int = 3, sizes: tuple[int, ...] = ()
) -> Scene:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(
        session, owner=owner, embargo_status=EmbargoStatus.UNEMBARGOING
    )
    draft.metadata_, draft.status = PUBLISHABLE, VersionStatus.VALID
    scene = Scene(dandiset, draft, owner)
    for i, size in enumerate(sizes or (64,) * files):
        content = os.urandom(size)
        await add_embargoed_asset(session, storage, scene, content, f"sub-{i:02}/sub-{i:02}.nwb")
    return scene


async def blob_rows(session: AsyncSession, ids: list[uuid.UUID]) -> list[AssetBlob]:
    query = select(AssetBlob).where(AssetBlob.id.in_(ids)).execution_options(populate_existing=True)
    return list(await session.scalars(query))


async def fresh(session: AsyncSession, row: Any) -> None:
    await session.refresh(row)


async def embargo_status(session: AsyncSession, dandiset: Dandiset) -> EmbargoStatus:
    await session.refresh(dandiset)
    return dandiset.embargo_status


async def assert_moved(session: AsyncSession, storage: S3Storage, scene: Scene) -> None:
    """Every blob open, its bytes at the public key untagged, nothing left under embargoed/."""
    assert {b.embargoed for b in await blob_rows(session, scene.blob_ids)} == {False}
    for blob_id, content in scene.contents.items():
        public = blob_key(blob_id)
        stored = await read_range(storage, public, 0, len(content) - 1)
        assert hashlib.sha256(stored).digest() == hashlib.sha256(content).digest(), blob_id
        assert await object_tags(storage, public) == {}
        assert await storage.head(blob_key(blob_id, embargoed=True)) is None, blob_id


async def run(ctx: Ctx, scene: Scene) -> str:
    result: str = await embargo.unembargo.coroutine(ctx, **scene.payload())
    return result


async def count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


# -- the whole job -----------------------------------------------------------------------


async def test_blobs_move_and_the_dandiset_opens(
    ctx: Ctx,
    session: AsyncSession,
    storage: S3Storage,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The largest blob takes the part-by-part copy, in parts of S3's minimum (the dandi-etag
    # plan would take 64 MiB blobs: test_blobs_of_several_dandi_parts_...).
    monkeypatch.setattr(embargo, "_part_size", lambda size: 5 * MiB if size > 5 * MiB else None)
    scene = await unembargoing(session, storage, sizes=(100, 2_000, 11 * MiB + 3))

    assert await run(ctx, scene) == "open (3 blobs moved)"

    await assert_moved(session, storage, scene)
    await fresh(session, scene.dandiset)
    await fresh(session, scene.draft)
    assert scene.dandiset.embargo_status is EmbargoStatus.OPEN
    assert scene.dandiset.embargo_end_date == datetime.now(UTC).date()
    assert scene.draft.status is VersionStatus.PENDING
    for asset in scene.assets:
        await fresh(session, asset)
        assert asset.status is AssetStatus.PENDING
    access = full_metadata(settings, scene.dandiset, scene.draft)["access"]
    assert access == [{"schemaKey": "AccessRequirements", "status": "dandi:OpenAccess"}]


async def test_opening_is_recorded_for_audit_search_and_dois(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, settings: Settings
) -> None:
    scene = await unembargoing(session, storage, files=1)
    await run(ctx, scene)

    audit = select(AuditRecord).where(AuditRecord.dandiset_id == scene.dandiset.id)
    (record,) = await session.scalars(audit)
    assert (record.record_type, record.username) == ("unembargo_dandiset", scene.owner.username)
    doi = await session.get(Doi, concept_doi(settings, scene.dandiset.id))
    assert doi is not None
    assert (doi.version, doi.target) == (None, DoiTarget.DRAFT)
    outbox = {
        (row.entity_type, row.entity_id) for row in await session.scalars(select(SearchOutbox))
    }
    assert (OutboxEntity.DANDISET, str(scene.dandiset.id)) in outbox
    assert (OutboxEntity.VERSION, str(scene.draft.id)) in outbox


async def test_draft_and_assets_are_validated_again_by_the_worker(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, job_queue: JobQueue
) -> None:
    scene = await unembargoing(session, storage, files=2)
    first = scene.assets[0]
    # The asset's earlier validation ran: arq keeps its result, refusing its id for an hour.
    earlier_id = VALIDATE_ASSET.job_id(AssetRef(asset_id=first.id))
    await job_queue.redis.set(f"{result_key_prefix}{earlier_id}", b"kept", ex=3600)

    await run(ctx, scene)

    await fresh(session, scene.draft)
    revision = VersionRevision(version_id=scene.draft.id, revision=scene.draft.modified.isoformat())
    assert await queued(job_queue, VALIDATE_VERSION.job_id(revision))
    for asset in scene.assets:
        payload = AssetRef(asset_id=asset.id)
        assert await queued(job_queue, REVALIDATE_UNEMBARGOED_ASSET.job_id(payload))
        # What the ingest worker does with the job: the asset is valid again.
        result = await validate_asset.coroutine(ctx, **payload.model_dump(mode="json"))
        await fresh(session, asset)
        assert result == "Valid", asset.validation_errors
    assert await validate_version.coroutine(ctx, **revision.model_dump()) == "Valid"


async def test_an_asset_whose_blob_is_not_ready_is_left_to_its_blob(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, job_queue: JobQueue
) -> None:
    scene = await unembargoing(session, storage, files=1)
    waiting = await add_embargoed_asset(session, storage, scene, b"still read", "sub-9/b.nwb")
    waiting.status = AssetStatus.PENDING
    blob = await session.get_one(AssetBlob, waiting.blob_id)
    blob.ready_at = None  # its extraction still running
    await session.flush()

    await run(ctx, scene)

    asked = REVALIDATE_UNEMBARGOED_ASSET.job_id(AssetRef(asset_id=waiting.id))
    assert not await queued(job_queue, asked)  # its blob's becoming ready asks instead
    ready = REVALIDATE_UNEMBARGOED_ASSET.job_id(AssetRef(asset_id=scene.assets[0].id))
    assert await queued(job_queue, ready)


async def queued(job_queue: JobQueue, job_id: str | None) -> bool:
    assert job_id is not None
    return bool(await job_queue.redis.exists(job_key_prefix + job_id))


async def test_a_second_run_changes_nothing(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    scene = await unembargoing(session, storage, files=2)
    await run(ctx, scene)

    assert await run(ctx, scene) == "not unembargoing"

    await assert_moved(session, storage, scene)
    audit = select(AuditRecord).where(AuditRecord.dandiset_id == scene.dandiset.id)
    assert await count(session, audit) == 1


@pytest.mark.parametrize("status", [EmbargoStatus.EMBARGOED, EmbargoStatus.OPEN])
async def test_a_dandiset_not_unembargoing_is_left_alone(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, status: EmbargoStatus
) -> None:
    scene = await unembargoing(session, storage, files=1)
    scene.dandiset.embargo_status = status
    await session.flush()

    assert await run(ctx, scene) == "not unembargoing"

    (blob_id,) = scene.blob_ids
    assert await storage.head(blob_key(blob_id, embargoed=True)) is not None
    assert await storage.head(blob_key(blob_id)) is None
    assert await embargo_status(session, scene.dandiset) is status


# -- crashes, outages, failures --------------------------------------------------------------


def failing_once(
    original: Callable[..., Awaitable[Any]], *, on_call: int
) -> Callable[..., Awaitable[Any]]:
    """`original`, except that its `on_call`-th call dies as a killed worker would."""
    calls = 0

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == on_call:
            raise RuntimeError("worker killed")
        return await original(*args, **kwargs)

    return wrapper


# Where a run over 5 blobs in batches of 2 dies: (object, function, its failing call, blobs
# still flagged embargoed afterwards).
CRASH_POINTS = {
    # Deleting the first batch's sources fails (the first call is the sweep) while the second
    # batch is copied and recorded: four blobs recorded open, their sources still there.
    "before deleting sources": ("storage", "delete_many", 2, 1),
    # The second batch copied, not yet recorded.
    "before recording a batch": ("module", "_record_open", 2, 3),
    # Amid the copies of the second batch.
    "amid copies": ("module", "copy_blob", 4, 3),
    # Everything moved, the dandiset not yet opened.
    "before opening": ("module", "open_dandiset", 1, 0),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
async def test_a_run_killed_midway_is_finished_by_the_next(
    ctx: Ctx,
    session: AsyncSession,
    storage: S3Storage,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    monkeypatch.setattr(embargo, "BATCH", 2)
    monkeypatch.setattr(embargo, "CONCURRENCY", 1)  # copies in order: the crash is exact
    scene = await unembargoing(session, storage, files=5)
    where, name, on_call, left = CRASH_POINTS[point]
    target: Any = storage if where == "storage" else embargo
    with monkeypatch.context() as crash:
        crash.setattr(target, name, failing_once(getattr(target, name), on_call=on_call))
        with pytest.raises(RuntimeError, match="worker killed"):
            await run(ctx, scene)
    # Never half open.
    assert await embargo_status(session, scene.dandiset) is EmbargoStatus.UNEMBARGOING
    assert await still_embargoed(session, scene) == left

    assert await run(ctx, scene) == f"open ({left} blobs moved)"
    await assert_moved(session, storage, scene)
    assert await embargo_status(session, scene.dandiset) is EmbargoStatus.OPEN


async def still_embargoed(session: AsyncSession, scene: Scene) -> int:
    return sum(b.embargoed for b in await blob_rows(session, scene.blob_ids))


async def test_an_s3_outage_is_retried_and_keeps_the_dandiset_unembargoing(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, settings: Settings
) -> None:
    scene = await unembargoing(session, storage, files=1)
    unreachable = settings.s3.model_copy(
        update={"endpoint_url": f"http://127.0.0.1:{free_port('127.0.0.1')}", "timeout_seconds": 2}
    )
    down = await S3Storage.connect(unreachable)
    try:
        with pytest.raises(Retry):
            await run(job_context(replace(ingest_resources(ctx), storage=down)), scene)
    finally:
        await down.close()
    assert await embargo_status(session, scene.dandiset) is EmbargoStatus.UNEMBARGOING
    assert await still_embargoed(session, scene) == 1


async def test_a_blob_without_its_object_fails_the_job_with_a_log(
    ctx: Ctx, session: AsyncSession, storage: S3Storage, caplog: pytest.LogCaptureFixture
) -> None:
    scene = await unembargoing(session, storage, files=1)
    lost = await create_blob(session, content=os.urandom(32))
    lost.embargoed = True
    await create_asset(session, version=scene.draft, path="sub-99/lost.nwb", blob=lost)

    failed = pytest.raises(embargo.UnembargoError, match=str(lost.id))
    with caplog.at_level(logging.ERROR, logger="dandelion.ingest.embargo"), failed:
        await run(ctx, scene)

    assert "unembargo failed" in caplog.text
    assert await embargo_status(session, scene.dandiset) is EmbargoStatus.UNEMBARGOING


async def test_a_blob_embargoed_after_the_moves_keeps_the_dandiset_closed(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    """An asset committed by a request that saw EMBARGOED before the unembargo began."""
    scene = await unembargoing(session, storage, files=1)
    await embargo.move_blobs(ctx, scene.dandiset.id, deadline=float("inf"))
    late = await add_embargoed_asset(session, storage, scene, b"late bytes", "sub-50/late.nwb")

    assert await embargo.open_dandiset(ctx, UnembargoRequest(**scene.payload())) is False
    assert await embargo_status(session, scene.dandiset) is EmbargoStatus.UNEMBARGOING

    assert await run(ctx, scene) == "open (1 blobs moved)"
    await assert_moved(session, storage, scene)
    await fresh(session, late)
    assert late.status is AssetStatus.PENDING


async def test_past_the_deadline_the_job_continues_in_a_new_try(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    scene = await unembargoing(session, storage, files=1)
    with pytest.raises(Retry):
        await embargo.move_blobs(ctx, scene.dandiset.id, deadline=0.0)
    assert await still_embargoed(session, scene) == 1


async def test_a_blob_shared_with_a_dandiset_still_embargoed_is_moved(
    ctx: Ctx, session: AsyncSession, storage: S3Storage
) -> None:
    """Dedup shares a blob by dandi-etag; once this dandiset is open its bytes are public
    anyway, and the other dandiset's own assets stay behind its embargo (the API's side: the
    `unembargoing` world of tests/api/test_embargo.py, a closed dandiset whose blob is open)."""
    scene = await unembargoing(session, storage, files=1)
    other_owner, _ = await create_user(session)
    other, other_draft = await create_dandiset(
        session, owner=other_owner, embargo_status=EmbargoStatus.EMBARGOED
    )
    shared = await session.get(AssetBlob, scene.blob_ids[0])
    await create_asset(session, version=other_draft, path="copy.nwb", blob=shared)

    await run(ctx, scene)

    await assert_moved(session, storage, scene)
    assert await embargo_status(session, other) is EmbargoStatus.EMBARGOED


def test_blobs_of_several_dandi_parts_are_copied_part_by_part() -> None:
    assert embargo._part_size(64 * MiB) is None
    assert embargo._part_size(64 * MiB + 1) == 64 * MiB


# -- storage: server-side copies and bulk deletes ---------------------------------------------


async def test_copy_object_leaves_the_tags_behind(storage: S3Storage) -> None:
    blob_id, content = uuid.uuid4(), os.urandom(1000)
    await put_embargoed(storage, blob_id, content)
    source, copy = blob_key(blob_id, embargoed=True), blob_key(blob_id)

    await storage.copy(source, copy, len(content))

    assert await read_range(storage, copy, 0, 999) == content
    tags = (await object_tags(storage, source), await object_tags(storage, copy))
    assert tags == ({"embargoed": "true"}, {})


async def test_a_multipart_copy_holds_the_same_bytes_untagged(storage: S3Storage) -> None:
    blob_id, content = uuid.uuid4(), os.urandom(11 * MiB + 17)  # three parts, a ragged end
    await put_embargoed(storage, blob_id, content)
    copy = blob_key(blob_id)

    await storage.copy(blob_key(blob_id, embargoed=True), copy, len(content), part_size=5 * MiB)

    stored = await read_range(storage, copy, 0, len(content) - 1)
    assert hashlib.sha256(stored).digest() == hashlib.sha256(content).digest()
    assert await object_tags(storage, copy) == {}
    assert not [u async for u in storage.list_multipart_uploads(copy)]  # completed, none left


async def test_a_failed_multipart_copy_leaves_no_upload(storage: S3Storage) -> None:
    missing, copy = f"embargoed/blobs/{uuid.uuid4()}", f"blobs/{uuid.uuid4()}"
    with pytest.raises(StorageError):
        await storage.copy(missing, copy, 11 * MiB, part_size=5 * MiB)
    assert await storage.head(copy) is None
    assert not [u async for u in storage.list_multipart_uploads(copy)]


@pytest.mark.parametrize("part_size", [MiB, 6 * 1024 * MiB])
async def test_copy_parts_outside_s3_limits_are_refused(storage: S3Storage, part_size: int) -> None:
    with pytest.raises(ValueError, match="outside S3's limits"):
        await storage.copy("a", "b", 20 * 1024 * MiB, part_size=part_size)


async def test_delete_many_in_batches_ignores_missing_keys(
    storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "DELETE_BATCH", 2)
    keys = [f"blobs/{uuid.uuid4()}" for _ in range(3)]
    for key in keys:
        await storage.put(key, b"x")

    await storage.delete_many([*keys, f"blobs/{uuid.uuid4()}"])

    assert [await storage.head(key) for key in keys] == [None, None, None]
