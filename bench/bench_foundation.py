"""Foundation rows: the job round trip through Redis and a worker against Redis's own round
trip, and the process helpers the other benchmarks share. (The API's request overhead against
a bare ASGI app is `bench_pipeline`'s.)"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from bench.table import Row
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import answers_ok, wait_until
from dandelion_common.jobs.contracts import PingPayload, Queue, ping_contract
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import RedisSettings

ROUND_TRIPS = 200
POLL_DELAY = 0.01


def service_env(urls: ServerUrls) -> dict[str, str]:
    return {
        **os.environ,
        "DANDELION_POSTGRES__URL": urls.postgres,
        "DANDELION_REDIS__URL": urls.redis,
        "DANDELION_S3__ENDPOINT_URL": urls.s3,
        "DANDELION_S3__ACCESS_KEY_ID": urls.s3_access_key,
        "DANDELION_S3__SECRET_ACCESS_KEY": urls.s3_secret_key,
        "DANDELION_LOGGING__LEVEL": "WARNING",
    }


@contextmanager
def process(argv: list[str], env: dict[str, str], ready_url: str | None = None) -> Iterator[None]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if ready_url:
            wait_until(lambda: answers_ok(ready_url), timeout=60, what=ready_url)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def job_round_trip(urls: ServerUrls) -> list[Row]:
    env = service_env(urls) | {"DANDELION_WORKER__POLL_DELAY_SECONDS": str(POLL_DELAY)}
    queue = await JobQueue.connect(RedisSettings(url=urls.redis))
    try:
        with process([sys.executable, "-m", "dandelion_common.cli", "worker", "search"], env):
            await ping_once(queue)  # waits for the worker to come up
            latencies = [await ping_once(queue) for _ in range(ROUND_TRIPS)]
        pings = []
        for _ in range(ROUND_TRIPS):
            start = time.perf_counter()
            await queue.redis.ping()
            pings.append(time.perf_counter() - start)
    finally:
        await queue.close()
    # arq polls: a job waits half a poll interval on average, then needs about three Redis
    # round trips (enqueue, pick up, read the result). That is the floor of this design.
    floor = POLL_DELAY / 2 + 3 * statistics.median(pings)
    return [
        Row(
            "job round trip p50 (enqueue→result)",
            statistics.median(latencies) * 1000,
            floor * 1000,
            f"poll/2 + 3 Redis RTT (poll {POLL_DELAY * 1000:.0f} ms)",
            "ms",
            higher_is_better=False,
        ),
    ]


async def ping_once(queue: JobQueue) -> float:
    start = time.perf_counter()
    job = await queue.enqueue(ping_contract(Queue.SEARCH), PingPayload(token=uuid.uuid4().hex))
    assert job is not None
    await job.result(timeout=60, poll_delay=0.001)
    return time.perf_counter() - start


async def run(urls: ServerUrls) -> list[Row]:
    return await job_round_trip(urls)
