"""A real ingest worker SIGKILLed in the middle of a 2 GiB sha256: after a restart arq runs the
job again, it continues from the Redis checkpoint, and the checksum matches hashlib's."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from arq.jobs import Job
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from dandelion_common.db.models import AssetBlob
from dandelion_common.db.session import create_engine
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.jobs.contracts import COMPUTE_SHA256, BlobRef
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import PostgresSettings, Settings
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest.checksum import Checkpoint, checkpoint_key

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

PART = 64 * 1024 * 1024
PARTS = 32
TAIL = 1_000_003  # a last part that leaves the object ragged: not whole chunks or blocks
SIZE = PART * PARTS + TAIL
# arq keeps a started job's in-progress key for job timeout + 10 s: a short timeout lets the
# killed job be retried within a minute. Runs stop (and are retried) before it if they must.
JOB_TIMEOUT_SECONDS = 45

T = TypeVar("T")


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(PostgresSettings(url=database), application_name="sha256-resume")
    yield engine
    await engine.dispose()


def part(n: int, block: bytes) -> bytes:
    """Part `n` of the object: the block rotated by a different amount for every part."""
    if n > PARTS:
        return block[:TAIL]
    shift = n * 7919
    return block[shift:] + block[:shift]


async def upload(storage: S3Storage, key: str) -> str:
    """Upload the 2 GiB object in 64 MiB parts; returns hashlib's digest of it."""
    block, digest = os.urandom(PART), hashlib.sha256()
    upload_id = await storage.create_multipart_upload(key)
    parts = []
    for n in range(1, PARTS + 2):
        data = part(n, block)
        digest.update(data)
        parts.append((n, await storage.upload_part(key, upload_id, n, data)))
    await storage.complete_multipart_upload(key, upload_id, parts)
    return digest.hexdigest()


def worker_env(servers: ServerUrls, settings: Settings, database: str) -> dict[str, str]:
    return {
        **os.environ,
        "DANDELION_POSTGRES__URL": database,
        "DANDELION_REDIS__URL": servers.redis,
        "DANDELION_S3__ENDPOINT_URL": servers.s3,
        "DANDELION_S3__BUCKET": settings.s3.bucket,
        "DANDELION_S3__ACCESS_KEY_ID": servers.s3_access_key,
        "DANDELION_S3__SECRET_ACCESS_KEY": servers.s3_secret_key,
        "DANDELION_WORKER__JOB_TIMEOUT_SECONDS": str(JOB_TIMEOUT_SECONDS),
        "DANDELION_WORKER__POLL_DELAY_SECONDS": "0.05",
        "DANDELION_GC__CRON_ENABLED": "false",
        "DANDELION_LOGGING__LEVEL": "INFO",
        "DANDELION_LOGGING__JSON_FORMAT": "true",
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "dandelion_common.cli", "worker", "ingest"]
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=60)


async def poll(probe: Callable[[], Awaitable[T | None]]) -> T:
    """The first non-None answer of `probe`, asked every 50 ms (callers bound the wait)."""
    while True:
        if (answer := await probe()) is not None:
            return answer
        await asyncio.sleep(0.05)


def logged(path: Path, message: str) -> list[dict[str, Any]]:
    """The JSON log records of a worker with `message`."""
    records = []
    for line in path.read_text().splitlines():
        if line.startswith("{") and (entry := json.loads(line))["message"] == message:
            records.append(entry)
    return records


async def test_a_killed_worker_resumes_the_checksum_after_restart(
    servers: ServerUrls,
    settings: Settings,
    storage: S3Storage,
    job_queue: JobQueue,
    database: str,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    blob_id = uuid.uuid4()
    key = blob_key(blob_id)
    workers: list[subprocess.Popen[bytes]] = []
    redis = job_queue.redis
    try:
        expected = await upload(storage, key)
        head = await storage.head(key)
        assert head is not None
        async with async_sessionmaker(engine)() as session:
            session.add(AssetBlob(id=blob_id, etag=head.etag, size=head.size))
            await session.commit()

        async def checkpoint() -> Checkpoint | None:
            raw = await redis.get(checkpoint_key(blob_id))
            return None if raw is None else Checkpoint.loads(raw, etag=head.etag, size=SIZE)

        async def checksum() -> str | None:
            async with async_sessionmaker(engine)() as session:
                blob = await session.get(AssetBlob, blob_id)
                return blob.sha256 if blob else None

        env = worker_env(servers, settings, database)
        workers.append(start_worker(env, tmp_path / "first.log"))
        job = await job_queue.enqueue(COMPUTE_SHA256, BlobRef(blob_id=blob_id))
        assert job is not None
        async with asyncio.timeout(600):
            seen = await poll(checkpoint)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=60)
        left = await checkpoint()  # the last one the killed run wrote
        assert left is not None
        assert left.resumed_from == 0
        assert seen.offset <= left.offset < SIZE

        workers.append(start_worker(env, tmp_path / "second.log"))
        # The retry waits for the killed run's in-progress key (job timeout + 10 s) to expire.
        async with asyncio.timeout(900):
            assert await poll(checksum) == expected

        # The restart began where the killed run left off, and hashed only the rest.
        resumed = logged(tmp_path / "second.log", "sha256 resumes from a checkpoint")
        assert resumed[0]["offset"] == left.offset
        (done,) = logged(tmp_path / "second.log", "sha256 computed")
        assert done["resumed_from"] >= left.offset
        assert done["bytes_hashed"] == SIZE - done["resumed_from"]
        result = await Job(job.job_id, redis, _queue_name=COMPUTE_SHA256.queue_name).result_info()
        assert result is not None
        assert (result.success, result.result) == (True, expected)
        assert 2 <= result.job_try <= 5  # the kill cost one of arq's 5 tries
        assert await redis.get(checkpoint_key(blob_id)) is None
    finally:
        for worker in workers:
            stop(worker)
        await storage.delete(key)
