"""Fixtures of the fault-injection tests: a Redis of the test's own (so it can be stopped and
its queues hold only this test's jobs), a private bucket and database, and the service
processes under test."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from faults.stack import OwnServer, Services
from localstack import s3_settings

from dandelion_common.db.session import Database
from dandelion_common.devstack.ephemeral import HOST, ServerUrls
from dandelion_common.devstack.process import free_port
from dandelion_common.devstack.servers import Redis
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import PostgresSettings, RedisSettings
from dandelion_common.storage import S3Storage


@pytest.fixture
def own_redis() -> Iterator[OwnServer[Redis]]:
    """A durable Redis (append-only file, as production runs it), started for this test."""
    with tempfile.TemporaryDirectory(prefix="faults-redis-") as root:
        redis = OwnServer(Redis(Path(root), HOST, free_port(HOST), durable=True))
        redis.start()
        try:
            yield redis
        finally:
            redis.stop()


@pytest.fixture
def redis_url(own_redis: OwnServer[Redis]) -> str:
    return own_redis.server.url


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[JobQueue]:
    jobs = await JobQueue.connect(RedisSettings(url=redis_url))
    yield jobs
    await jobs.close()


@pytest.fixture
def bucket() -> str:
    """A bucket of the test's own: object listings see only what this test's services wrote."""
    return f"faults-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def bucket_storage(servers: ServerUrls, bucket: str) -> AsyncIterator[S3Storage]:
    settings = s3_settings(servers).model_copy(update={"bucket": bucket})
    store = await S3Storage.connect(settings)
    await store.ensure_bucket()
    yield store
    await store.close()


@pytest.fixture
async def private_db(database: str) -> AsyncIterator[Database]:
    """The test's committed database, as the services see it."""
    db = Database.connect(PostgresSettings(url=database), application_name="faults-test")
    yield db
    await db.dispose()


@pytest.fixture
def services(
    servers: ServerUrls,
    database: str,
    redis_url: str,
    bucket_storage: S3Storage,
    bucket: str,
    tmp_path: Path,
) -> Iterator[Services]:
    stack = Services.for_test(servers, database, redis_url, tmp_path, DANDELION_S3__BUCKET=bucket)
    try:
        yield stack
    finally:
        stack.stop_all()
