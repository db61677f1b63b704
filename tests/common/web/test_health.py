"""Readiness follows the backing services: 503 while Redis is down, 200 once it is back."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import serve

from dandelion_api.resources import ApiResources
from dandelion_common.devstack.process import Child, free_port, wait_until
from dandelion_common.devstack.servers import Redis
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import RedisSettings


@pytest.fixture
def own_redis() -> Iterator[tuple[Redis, Child]]:
    """A Redis of this test's own, so stopping it disturbs no other test."""
    redis = Redis(
        Path(tempfile.mkdtemp(prefix="dandelion-redis-")), "127.0.0.1", free_port(), durable=False
    )
    child = redis.child()
    child.start()
    wait_until(redis.ready, timeout=10, what="redis", child=child)
    yield redis, child
    child.stop()


@pytest.fixture
async def client(
    resources: ApiResources, own_redis: tuple[Redis, Child]
) -> AsyncIterator[httpx.AsyncClient]:
    from dandelion_api.app import create_app

    queue = await JobQueue.connect(RedisSettings(url=own_redis[0].url, connect_timeout_seconds=0.5))
    own = ApiResources(
        settings=resources.settings, db=resources.db, queue=queue, storage=resources.storage
    )
    async with serve(create_app(resources.settings), own) as client:
        yield client
    await queue.close()


async def ready_status(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()["checks"]


async def test_readyz_follows_redis(
    client: httpx.AsyncClient, own_redis: tuple[Redis, Child]
) -> None:
    redis, child = own_redis
    assert await ready_status(client) == (200, {"postgres": "ok", "redis": "ok", "s3": "ok"})

    child.stop()
    status, checks = await ready_status(client)
    assert status == 503
    assert checks["redis"].startswith("error")
    assert checks["postgres"] == checks["s3"] == "ok"

    restarted = redis.child()
    restarted.start()
    try:
        wait_until(redis.ready, timeout=10, what="redis to restart", child=restarted)
        # The pool drops the dead connection on the first failure and reconnects on the next call.
        for _ in range(20):
            if (await ready_status(client))[0] == 200:
                break
        assert await ready_status(client) == (200, {"postgres": "ok", "redis": "ok", "s3": "ok"})
    finally:
        own_redis[1].popen = restarted.popen  # the fixture stops whichever process is current


async def test_healthz_needs_no_backing_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
