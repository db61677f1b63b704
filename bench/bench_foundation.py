"""Foundation rows: request overhead of the API against a bare ASGI app, and the job round
trip through Redis and a worker against Redis's own round trip."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench.table import Row
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import answers_ok, free_port, wait_until
from dandelion_common.jobs.contracts import PingPayload, Queue, ping_contract
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import RedisSettings

LOAD_SECONDS = 3.0
CONCURRENCY = 16
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


async def requests_per_second(host: str, port: int, path: str) -> float:
    """Closed-loop load over raw keep-alive sockets (cheap enough not to be the bottleneck).

    CONCURRENCY connections each send a GET and read the whole response before the next one.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    done = 0
    deadline = time.monotonic() + LOAD_SECONDS

    async def connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head[:80]
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    return done / LOAD_SECONDS


async def info_throughput(urls: ServerUrls) -> Row:
    env = service_env(urls)
    api_port, peer_port = free_port(), free_port()
    api_env = env | {"DANDELION_API__PORT": str(api_port)}
    with process(
        [sys.executable, "-m", "dandelion_common.cli", "api"],
        api_env,
        f"http://127.0.0.1:{api_port}/healthz",
    ):
        async with httpx.AsyncClient() as client:
            body = (await client.get(f"http://127.0.0.1:{api_port}/api/info/")).text
        ours = await requests_per_second("127.0.0.1", api_port, "/api/info/")
    peer_argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.peer_app:app",
        "--port",
        str(peer_port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with process(peer_argv, env | {"PEER_BODY": body}, f"http://127.0.0.1:{peer_port}/"):
        peer = await requests_per_second("127.0.0.1", peer_port, "/")
    return Row(
        "GET /api/info/ throughput", ours, peer, "bare ASGI app, same JSON, same uvicorn", "req/s"
    )


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
    return [await info_throughput(urls), *await job_round_trip(urls)]
