"""Redis stopped and started again in the middle of ingest: the API reports itself unready,
keeps serving reads and answers a write that committed as a success; the worker waits
instead of exiting; the queued jobs run once Redis is back, from its append-only file."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from faults.stack import OwnServer, Services, approved_key, eventually, send_upload, upload_blob

from dandelion_common.db.enums import AssetStatus
from dandelion_common.db.models import Asset, AssetBlob, Upload
from dandelion_common.db.session import Database
from dandelion_common.devstack.servers import Redis
from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.queue import JobQueue

pytestmark = pytest.mark.slow  # starts service processes and waits for recoveries

DATA = b"spikes, " * 1000


@pytest.fixture
async def client(services: Services, database: str) -> AsyncIterator[httpx.AsyncClient]:
    api = services.start_api()
    headers = {"Authorization": f"token {await approved_key(database)}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as http:
        yield http


async def new_dandiset(client: httpx.AsyncClient) -> str:
    created = await client.post("/dandisets/", json={"name": "Outage", "metadata": {}})
    assert created.status_code == 200, created.text
    identifier: str = created.json()["identifier"]
    return identifier


async def idle(queue: JobQueue, worker: subprocess.Popen[bytes]) -> None:
    """Wait for the worker to report its health and to have run every queued job (frozen
    inside a job, it would hold that job's row locks)."""

    async def settled() -> bool | None:
        health = queue.redis.scan_iter(match=f"dandelion:health:ingest:*:{worker.pid}")
        running = queue.redis.scan_iter(match="arq:in-progress:*")
        waiting = await queue.redis.zcard(Queue.INGEST.redis_name)
        ok = [k async for k in health] and not [k async for k in running] and not waiting
        return True if ok else None

    await eventually(settled, within=90, what="the ingest worker to start and settle")


async def readiness(services: Services) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient(timeout=30) as probe:
        answer = await probe.get(f"{services.base}/readyz")
    checks: dict[str, str] = answer.json()["checks"]
    return answer.status_code, checks


async def ingested(db: Database, asset_id: str) -> Asset | None:
    async with db.session() as session:
        asset = await session.get(Asset, uuid.UUID(asset_id))
        assert asset is not None
        return None if asset.status is AssetStatus.PENDING else asset


async def queued_asset(client: httpx.AsyncClient, queue: JobQueue, dandiset: str) -> str:
    """An uploaded blob and its asset, whose ingest jobs wait in the queue; the asset's id."""
    blob_id = await upload_blob(client, dandiset, DATA)
    metadata = {"path": "sub-1/sub-1_notes.txt"}
    created = await client.post(f"/dandisets/{dandiset}/versions/draft/assets/",
                                json={"blob_id": blob_id, "metadata": metadata})  # fmt: skip
    assert created.status_code == 200, created.text
    for job_id in (f"sha256:{blob_id}", f"extract:{blob_id}"):
        assert await queue.redis.zscore(Queue.INGEST.redis_name, job_id) is not None
    asset_id: str = created.json()["asset_id"]
    return asset_id


async def validated_while_down(
    client: httpx.AsyncClient, services: Services, db: Database, upload_id: str
) -> None:
    """The commit creates the blob and ends the upload; only the jobs it asks for cannot be
    sent. A 503 would make the client retry an upload that no longer exists."""
    validated = await client.post(f"/uploads/{upload_id}/validate/")
    assert validated.status_code == 200, validated.text
    async with db.session() as session:
        assert await session.get(AssetBlob, uuid.UUID(validated.json()["blob_id"])) is not None
        assert await session.get(Upload, uuid.UUID(upload_id)) is None
    assert "job not sent, redis unavailable" in services.log("api")  # lost jobs are visible


async def waits_for_redis(services: Services, worker: subprocess.Popen[bytes]) -> None:
    async def noticed() -> bool | None:
        gone = worker.poll() is not None
        return True if gone or "redis unavailable" in services.log("worker-ingest") else None

    await eventually(noticed, within=30, what="the worker to poll the stopped Redis")
    assert worker.poll() is None, services.log("worker-ingest")


async def _ready(services: Services) -> bool | None:
    status, _ = await readiness(services)
    return True if status == 200 else None


async def test_redis_restarted_mid_ingest(
    services: Services,
    client: httpx.AsyncClient,
    own_redis: OwnServer[Redis],
    queue: JobQueue,
    private_db: Database,
) -> None:
    dandiset = await new_dandiset(client)
    worker = services.start_worker("ingest")
    await idle(queue, worker)
    os.kill(worker.pid, signal.SIGSTOP)  # frozen: the upload's jobs stay queued
    asset_id = await queued_asset(client, queue, dandiset)
    waiting = await send_upload(client, dandiset, b"second " + DATA)  # to validate meanwhile

    own_redis.stop()
    status, checks = await readiness(services)
    assert status == 503
    assert checks["redis"].startswith("error"), checks
    assert (await client.get(f"/dandisets/{dandiset}/")).status_code == 200  # reads go on
    await validated_while_down(client, services, private_db, waiting)
    os.kill(worker.pid, signal.SIGCONT)  # the worker now polls a Redis that is away
    await waits_for_redis(services, worker)

    own_redis.start()  # from its append-only file
    await eventually(lambda: _ready(services), within=30, what="readiness after the restart")
    asset = await eventually(lambda: ingested(private_db, asset_id), within=60,
                             what="the queued jobs to run")  # fmt: skip
    assert asset.status in (AssetStatus.VALID, AssetStatus.INVALID)
    async with private_db.session() as session:
        blob = await session.get(AssetBlob, asset.blob_id)
        assert blob is not None
        assert blob.sha256 == hashlib.sha256(DATA).hexdigest()
    assert worker.poll() is None  # the same worker did the work: it never exited
