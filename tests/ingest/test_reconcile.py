"""The ingest reconcile sends again the jobs the database says are due (as if their sends had
been lost with Redis), past a grace period, and nothing else; asking twice is harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.constants import job_key_prefix
from arq.jobs import Job
from conftest import ingest_context
from factories import create_asset, create_blob, create_dandiset, create_extract, create_user
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, EmbargoStatus, VersionStatus, ZarrStatus
from dandelion_common.db.models import Asset, AssetBlob, Version, ZarrArchive
from dandelion_common.db.session import Database
from dandelion_common.jobs.contracts import (
    COMPUTE_SHA256,
    EXTRACT_NWB,
    INGEST_ZARR,
    PUBLISH_VERSION,
    UNEMBARGO,
    VALIDATE_ASSET,
    VALIDATE_VERSION,
    AssetRef,
    BlobRef,
    JobContract,
    Payload,
    PublishRequest,
    UnembargoRequest,
    VersionRevision,
    ZarrRef,
)
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings, WorkerSettings
from dandelion_common.storage import S3Storage
from dandelion_ingest.reconcile import reconcile_cron, reconcile_ingest

Ctx = dict[str, Any]
LONG_AGO = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture
def ctx(settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage) -> Ctx:
    return ingest_context(settings, db, job_queue, storage)


async def queued(queue: JobQueue, job_id: str | None) -> bool:
    assert job_id is not None
    return bool(await queue.redis.exists(job_key_prefix + job_id))


async def test_lost_ingest_jobs_are_sent_again_once(
    ctx: Ctx, session: AsyncSession, job_queue: JobQueue
) -> None:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    unhashed = await create_blob(session, content=b"no checksum yet")
    await session.execute(update(AssetBlob).where(AssetBlob.id == unhashed.id).values(sha256=None))
    asset = await create_asset(session, version=draft, path="sub-1/a.nwb")  # hashed, unread
    extracted = await create_asset(session, version=draft, path="sub-1/b.nwb")
    assert extracted.blob_id is not None
    await create_extract(session, await session.get_one(AssetBlob, extracted.blob_id))
    archive = ZarrArchive(dandiset_id=dandiset.id, name="c.zarr", status=ZarrStatus.UPLOADED)
    session.add(archive)
    await session.flush()
    for model in (AssetBlob, Asset, ZarrArchive):
        await session.execute(update(model).values(created=LONG_AGO, modified=LONG_AGO))
    await session.execute(update(Version).values(modified=LONG_AGO, status=VersionStatus.PENDING))
    fresh = await create_blob(session, content=b"just uploaded")  # its own jobs are in flight
    await session.execute(update(AssetBlob).where(AssetBlob.id == fresh.id).values(sha256=None))
    await session.flush()

    assert await reconcile_ingest(ctx) == 6
    assert asset.blob_id is not None
    expected = [
        COMPUTE_SHA256.job_id(BlobRef(blob_id=unhashed.id)),
        EXTRACT_NWB.job_id(BlobRef(blob_id=unhashed.id)),
        EXTRACT_NWB.job_id(BlobRef(blob_id=asset.blob_id)),
        VALIDATE_ASSET.job_id(AssetRef(asset_id=extracted.id)),
        VALIDATE_VERSION.job_id(
            VersionRevision(version_id=draft.id, revision=LONG_AGO.isoformat())
        ),
        INGEST_ZARR.job_id(ZarrRef(zarr_id=archive.id)),
    ]
    for job_id in expected:
        assert await queued(job_queue, job_id), job_id
    assert not await queued(job_queue, COMPUTE_SHA256.job_id(BlobRef(blob_id=fresh.id)))
    # Its blob is not ready (unread): its extraction, once done, asks for it.
    assert not await queued(job_queue, VALIDATE_ASSET.job_id(AssetRef(asset_id=asset.id)))
    assert await reconcile_ingest(ctx) == 0  # all known to the queue: nothing twice


async def test_a_blob_with_both_facts_but_not_marked_ready_is_settled(
    ctx: Ctx, session: AsyncSession, job_queue: JobQueue
) -> None:
    """As a worker of the version before readiness leaves it during a deploy."""
    owner, _ = await create_user(session)
    _, draft = await create_dandiset(session, owner=owner)
    asset = await create_asset(session, version=draft, path="sub-1/a.nwb")
    blob = await session.get_one(AssetBlob, asset.blob_id)
    await create_extract(session, blob)
    blob.ready_at = None
    await session.flush()
    for model in (AssetBlob, Asset):
        await session.execute(update(model).values(created=LONG_AGO, modified=LONG_AGO))
    await session.flush()

    await reconcile_ingest(ctx)

    await session.refresh(blob)
    assert blob.ready_at is not None
    assert await queued(job_queue, VALIDATE_ASSET.job_id(AssetRef(asset_id=asset.id)))
    assert await reconcile_ingest(ctx) == 0


async def test_valid_and_published_work_is_left_alone(ctx: Ctx, session: AsyncSession) -> None:
    owner, _ = await create_user(session)
    _, draft = await create_dandiset(session, owner=owner)
    asset = await create_asset(session, version=draft, path="sub-1/a.nwb")
    assert asset.blob_id is not None
    await create_extract(session, await session.get_one(AssetBlob, asset.blob_id))
    await session.execute(update(Asset).values(status=AssetStatus.VALID))
    await session.execute(update(Version).values(status=VersionStatus.VALID))
    for model in (AssetBlob, Asset, Version):
        await session.execute(update(model).values(modified=LONG_AGO))
    await session.flush()
    assert await reconcile_ingest(ctx) == 0


async def test_publishes_and_unembargoes_left_waiting_are_asked_for_again_by_their_user(
    ctx: Ctx, session: AsyncSession, job_queue: JobQueue
) -> None:
    owner, _ = await create_user(session)
    requester, _ = await create_user(session)
    publishing, draft = await create_dandiset(session, owner=owner)
    unembargoing, _ = await create_dandiset(
        session, owner=owner, embargo_status=EmbargoStatus.UNEMBARGOING
    )
    just_asked, just_asked_draft = await create_dandiset(session, owner=owner)
    draft.status, just_asked_draft.status = VersionStatus.PUBLISHING, VersionStatus.PUBLISHING
    draft.publish_requested_by, draft.publish_requested_at = requester.id, LONG_AGO
    unembargoing.unembargo_requested_by = requester.id
    unembargoing.unembargo_requested_at = LONG_AGO
    just_asked_draft.publish_requested_by = requester.id  # its job is on its way
    just_asked_draft.publish_requested_at = datetime.now(UTC)
    await session.flush()

    assert await reconcile_ingest(ctx) == 2
    publish = PublishRequest(dandiset_id=publishing.id, user_id=requester.id)
    unembargo = UnembargoRequest(dandiset_id=unembargoing.id, user_id=requester.id)
    sent: list[tuple[JobContract[Any], Payload]] = [
        (PUBLISH_VERSION, publish),
        (UNEMBARGO, unembargo),
    ]
    for contract, payload in sent:
        job_id = contract.job_id(payload)
        assert job_id is not None
        info = await Job(job_id, job_queue.redis, _queue_name=contract.queue_name).info()
        assert info is not None
        assert (info.function, info.kwargs) == (contract.name, payload.model_dump(mode="json"))
    just_asked_id = PUBLISH_VERSION.job_id(
        PublishRequest(dandiset_id=just_asked.id, user_id=requester.id)
    )
    assert not await queued(job_queue, just_asked_id)
    assert await reconcile_ingest(ctx) == 0  # queued already: nothing twice


def test_the_sweep_runs_every_few_minutes_and_can_be_switched_off(settings: Settings) -> None:
    every_five = settings.model_copy(update={"worker": WorkerSettings()})
    job = reconcile_cron(every_five)
    assert job is not None
    assert job.minute == set(range(0, 60, 5))
    off = settings.model_copy(update={"worker": WorkerSettings(ingest_reconcile_minutes=0)})
    assert reconcile_cron(off) is None
