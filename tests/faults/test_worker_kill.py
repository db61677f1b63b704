"""SIGKILL of each worker in the middle of a job (an OOM kill, a node lost): after a restart the
work is done exactly once: no second published version, no duplicate manifests, index rows or
DOIs.

Each job is held at a known point by a row lock the test takes (or by DataCite hanging), so the
kill lands mid-job every time, after the job has written part of its work. arq retries a
killed job once its in-progress lease (job timeout + 10 s) expires: the workers here run with
a 5 s job timeout so the retry comes within seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from arq.jobs import Job
from doi.fake_datacite import FakeDataCite
from factories import create_asset, create_dandiset, create_user
from faults.stack import Services, eventually
from localstack import PUBLISHABLE
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dandelion_common.db.enums import AssetStatus, DoiState, OutboxEntity, VersionStatus
from dandelion_common.db.models import (
    Doi,
    SearchAssetDocument,
    SearchDandisetDocument,
    SearchIndexedDandiset,
    SearchOutbox,
    Version,
    VersionAsset,
)
from dandelion_common.db.session import Database
from dandelion_common.jobs.contracts import PUBLISH_VERSION, SYNC_DOI, DoiRef, PublishRequest
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.outbox import emit
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage
from dandelion_ingest.publish import publish_draft

pytestmark = pytest.mark.slow  # starts service processes and waits for recoveries

JOB_TIMEOUT = {"DANDELION_WORKER__JOB_TIMEOUT_SECONDS": "5"}
NWB_ASSET = {"schemaVersion": SCHEMA_VERSION, "encodingFormat": "application/x-nwb"}
RETRY_WAIT = 90  # the lease (15 s), a worker start and the job, on a loaded machine


@asynccontextmanager
async def row_locked(db: Database, sql: str, **params: Any) -> AsyncIterator[AsyncConnection]:
    """Hold `SELECT ... FOR UPDATE` in an open transaction; rolled back on exit."""
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        assert (await conn.execute(text(sql), params)).first() is not None
        try:
            yield conn
        finally:
            await transaction.rollback()


async def a_worker_waits_on_a_lock(db: Database) -> bool | None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND application_name LIKE 'dandelion-%' AND datname = current_database()"
    )
    async with db.engine.connect() as conn:
        return True if await conn.scalar(query) else None


async def job_try(queue: JobQueue, job: Job, contract_queue: str) -> int:
    """The try on which the job succeeded."""
    done = Job(job.job_id, queue.redis, _queue_name=contract_queue)
    info = await eventually(done.result_info, within=30, what="the job's result")
    assert info.success, info.result
    return info.job_try


def logged_tries(services: Services, worker: str, job_id: str) -> list[tuple[int, str]]:
    """(try, outcome) of each run of a job the worker's JSON log records: for the jobs whose
    contract keeps no result in Redis (publish may run again within the hour)."""
    runs = []
    for line in services.log(worker).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line of the process's own (uvloop, a traceback)
        if record.get("message") == "job finished" and record.get("job_id") == job_id:
            runs.append((record["job_try"], record["outcome"]))
    return runs


async def publishing_draft(db: Database) -> tuple[int, int]:
    """A dandiset whose draft (two Valid assets) the API has marked Publishing."""
    async with db.session() as session:
        owner, _ = await create_user(session)
        dandiset, draft = await create_dandiset(session, owner=owner, name="Killed publish")
        draft.metadata_ = {**draft.metadata_, **PUBLISHABLE, "schemaVersion": SCHEMA_VERSION}
        for n in (1, 2):
            asset = await create_asset(session, version=draft, path=f"sub-{n}/sub-{n}.nwb")
            asset.status = AssetStatus.VALID
            asset.metadata_ = {**asset.metadata_, **NWB_ASSET}
        draft.status = VersionStatus.PUBLISHING
        await session.commit()
        return dandiset.id, owner.id


async def published_versions(db: Database, dandiset_id: int) -> list[Version]:
    async with db.session() as session:
        query = select(Version).where(Version.dandiset_id == dandiset_id)
        return [v for v in await session.scalars(query) if v.version != "draft"]


async def listed(storage: S3Storage, prefix: str) -> list[str]:
    # The storage module has no listing (the archive never lists); the test asks S3 directly.
    page = await storage._client.list_objects_v2(Bucket=storage.bucket, Prefix=prefix)
    return sorted(item["Key"] for item in page.get("Contents", []))


async def test_a_killed_ingest_worker_publishes_once_after_restart(
    services: Services, private_db: Database, queue: JobQueue, bucket_storage: S3Storage
) -> None:
    services.env |= JOB_TIMEOUT
    dandiset_id, user_id = await publishing_draft(private_db)
    services.start_worker("ingest")
    # The job stops at its last step (freezing the published assets) with the new version,
    # its asset list and folder tree written but not committed.
    lock = "SELECT id FROM assets WHERE path = 'sub-2/sub-2.nwb' FOR UPDATE"
    async with row_locked(private_db, lock):
        job = await queue.enqueue(PUBLISH_VERSION, PublishRequest(dandiset_id=dandiset_id,
                                                                  user_id=user_id))  # fmt: skip
        assert job is not None
        await eventually(lambda: a_worker_waits_on_a_lock(private_db), within=60,
                         what="the publish job to reach the locked asset")  # fmt: skip
        services.kill("worker-ingest")
    assert await published_versions(private_db, dandiset_id) == []  # nothing half-published

    services.start_worker("ingest")
    prefix = f"dandisets/{dandiset_id:06}/"

    async def manifests() -> list[str] | None:
        keys = await listed(bucket_storage, prefix)
        return keys if len(keys) >= 5 else None

    keys = await eventually(manifests, within=RETRY_WAIT, what="the manifests")
    (version,) = await published_versions(private_db, dandiset_id)
    names = ["assets.jsonld", "assets.yaml", "collection.jsonld", "dandiset.jsonld",
             "dandiset.yaml"]  # fmt: skip
    assert keys == [f"{prefix}{version.version}/{name}" for name in names]
    async with private_db.session() as session:
        held = select(func.count()).where(VersionAsset.version_id == version.id)
        assert await session.scalar(held) == 2
        draft = await session.scalar(
            select(Version).where(Version.dandiset_id == dandiset_id, Version.version == "draft")
        )
        assert draft is not None
        assert draft.status is VersionStatus.PUBLISHED
    # The killed run logged nothing; the run after the restart was its second try.
    assert logged_tries(services, "worker-ingest", job.job_id) == [(2, "completed")]
    assert [u async for u in bucket_storage.list_multipart_uploads()] == []


async def indexed_dandiset(db: Database) -> tuple[int, list[str]]:
    """A dandiset with two assets whose changes wait in the outbox, and the embargo state the
    indexer remembers for it (the row the test locks)."""
    async with db.session() as session:
        owner, _ = await create_user(session)
        dandiset, draft = await create_dandiset(session, owner=owner, name="Before the kill")
        assets = [
            await create_asset(session, version=draft, path=f"sub-{n}/sub-{n}.nwb") for n in (1, 2)
        ]
        emit(session, OutboxEntity.DANDISET, dandiset.id)
        for asset in assets:
            emit(session, OutboxEntity.ASSET, asset.id)
        session.add(SearchIndexedDandiset(dandiset_id=dandiset.id, embargoed=False))
        await session.commit()
        return dandiset.id, [str(a.id) for a in assets]


async def outbox_size(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SearchOutbox)) or 0)


async def test_a_killed_search_worker_leaves_the_index_equal_to_the_database(
    services: Services, private_db: Database
) -> None:
    dandiset_id, asset_ids = await indexed_dandiset(private_db)
    services.start_worker("search")
    # The drain has written the documents (committed) and waits to record what it indexed;
    # its outbox rows are still claimed, not deleted.
    lock = "SELECT 1 FROM search_indexed_dandisets WHERE dandiset_id = :id FOR UPDATE"
    async with row_locked(private_db, lock, id=dandiset_id):
        await eventually(lambda: a_worker_waits_on_a_lock(private_db), within=60,
                         what="the drain to reach the locked row")  # fmt: skip
        services.kill("worker-search")
    assert await outbox_size(private_db) == 3  # the killed drain deleted none of its rows

    async with private_db.session() as session:  # a change committed while no worker runs
        draft = await session.scalar(select(Version).where(Version.dandiset_id == dandiset_id))
        assert draft is not None
        draft.name = "After the restart"
        emit(session, OutboxEntity.VERSION, draft.id)
        await session.commit()
    services.start_worker("search")

    async def drained() -> bool | None:
        return True if await outbox_size(private_db) == 0 else None

    await eventually(drained, within=RETRY_WAIT, what="the outbox to drain")
    async with private_db.session() as session:
        docs = list(await session.scalars(select(SearchDandisetDocument)))
        assert [(d.dandiset_id, d.title) for d in docs] == [(dandiset_id, "After the restart")]
        assets = await session.scalars(select(SearchAssetDocument.id))
        assert sorted(assets) == sorted(asset_ids)
        remembered = await session.scalars(select(SearchIndexedDandiset.dandiset_id))
        assert list(remembered) == [dandiset_id]


async def findable_doi_wanted(db: Database, settings: Settings) -> str:
    """A published version whose DOI row asks DataCite for a findable DOI."""
    async with db.session() as session:
        owner, _ = await create_user(session)
        dandiset, draft = await create_dandiset(session, owner=owner, name="Killed DOI")
        draft.metadata_ = {**draft.metadata_, **PUBLISHABLE, "schemaVersion": SCHEMA_VERSION}
        asset = await create_asset(session, version=draft, path="sub-1/sub-1.nwb")
        asset.status, draft.status = AssetStatus.VALID, VersionStatus.PUBLISHING
        asset.metadata_ = {**asset.metadata_, **NWB_ASSET}
        await session.flush()
        request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
        version = await publish_draft(session, settings, request)
        assert version is not None
        await session.commit()  # its jobs are not sent: the test asks for the one it kills
        doi: str = version.metadata_["doi"]
        return doi


async def test_a_killed_doi_worker_registers_the_doi_once_after_restart(
    services: Services,
    private_db: Database,
    queue: JobQueue,
    settings: Settings,
    fake_datacite: FakeDataCite,
) -> None:
    minting = settings.model_copy(update={"doi": fake_datacite.doi_settings()})
    doi = await findable_doi_wanted(private_db, minting)
    services.env |= JOB_TIMEOUT | fake_datacite.env() | {"DANDELION_DOI__TIMEOUT_SECONDS": "3"}
    fake_datacite.hang(120)  # the PUT waits until the test recovers DataCite
    services.start_worker("doi")
    job = await queue.enqueue(SYNC_DOI, DoiRef(doi=doi))
    assert job is not None
    in_progress = f"arq:in-progress:{job.job_id}"

    async def started() -> bool | None:
        return True if await queue.redis.exists(in_progress) else None

    await eventually(started, within=60, what="the sync_doi job to start")
    await asyncio.sleep(0.5)  # its DataCite call is under way (it cannot end while hanging)
    services.kill("worker-doi")
    fake_datacite.recover()
    assert fake_datacite.records == {}

    services.start_worker("doi")

    async def synced() -> Doi | None:
        async with private_db.session() as session:
            row = await session.get(Doi, doi)
            return row if row is not None and row.state is DoiState.FINDABLE else None

    row = await eventually(synced, within=RETRY_WAIT, what="the DOI to be findable")
    assert row.synced is not None
    assert row.error is None
    records = fake_datacite.records
    assert records[doi.lower()].state == "findable"
    # Nothing but this dandiset's two DOIs (its reconcile may have sent the concept DOI too).
    assert set(records) <= {doi.lower(), doi.lower().rsplit("/", 1)[0]}
    assert await job_try(queue, job, SYNC_DOI.queue_name) >= 2
