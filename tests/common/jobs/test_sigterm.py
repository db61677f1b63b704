"""SIGTERM to a real worker process in the middle of a job (what Kubernetes does on a rollout,
a scale-down or a node drain): the job either finishes within the job completion wait, or is
cancelled and stays queued, and the next worker runs it. It is never lost, and the queued
jobs the stopping worker had not started are left to the next worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar, cast

import httpx
import pytest
from arq.jobs import Job, JobStatus
from common.jobs.sigterm_worker import Slow, finished_key, slow_contract, started_key
from prometheus_client.parser import text_string_to_metric_families

from dandelion_common.devstack.process import free_port
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WORKER = Path(__file__).with_name("sigterm_worker.py")
T = TypeVar("T")


@pytest.fixture
def queue() -> str:
    return f"dandelion:queue:test-sigterm-{uuid.uuid4().hex[:8]}"


class Workers:
    """Worker processes of one test, each with its log; all are stopped at the end."""

    def __init__(self, settings: Settings, queue: str, logs: Path) -> None:
        self.settings, self.queue, self.logs = settings, queue, logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, *, job_seconds: float, completion_wait: int, metrics_port: int = 0
    ) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DANDELION_REDIS__URL": self.settings.redis.url,
            "DANDELION_WORKER__MAX_JOBS": "1",
            "DANDELION_WORKER__POLL_DELAY_SECONDS": "0.05",
            "DANDELION_WORKER__JOB_COMPLETION_WAIT_SECONDS": str(completion_wait),
            "SLOW_JOB_SECONDS": str(job_seconds),
        }
        if metrics_port:
            env["DANDELION_WORKER__METRICS_PORT"] = str(metrics_port)
        log = self.logs / f"worker-{len(self.started)}.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, str(WORKER), self.queue],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.started.append(worker)
        return worker

    def log(self, n: int) -> str:
        return (self.logs / f"worker-{n}.log").read_text()

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=30)


@pytest.fixture
def workers(settings: Settings, queue: str, tmp_path: Path) -> Iterator[Workers]:
    processes = Workers(settings, queue, tmp_path)
    yield processes
    processes.stop_all()


async def poll(probe: Callable[[], Awaitable[T | None]]) -> T:
    """The first non-None answer of `probe`, asked every 50 ms (callers bound the wait)."""
    while True:
        if (answer := await probe()) is not None:
            return answer
        await asyncio.sleep(0.05)


async def tries(job_queue: JobQueue, key: str) -> list[int]:
    """The job tries recorded under `key`, in order."""
    pending = cast(Awaitable[list[bytes]], job_queue.redis.lrange(key, 0, -1))
    return [int(v) for v in await pending]


async def enqueue(job_queue: JobQueue, queue: str, token: str) -> Job:
    job = await job_queue.enqueue(slow_contract(queue), Slow(token=token))
    assert job is not None
    return job


async def started(job_queue: JobQueue, token: str) -> None:
    async def probe() -> bool | None:
        return True if await tries(job_queue, started_key(token)) else None

    async with asyncio.timeout(60):
        await poll(probe)


async def exited(worker: subprocess.Popen[bytes]) -> tuple[int, float]:
    """The exit code of a worker told to stop, and how long it took."""
    begun = time.monotonic()
    code = await asyncio.to_thread(worker.wait, 60)
    return code, time.monotonic() - begun


async def result(job: Job) -> tuple[bool, int]:
    async with asyncio.timeout(60):
        info = await poll(job.result_info)
    return info.success, info.result


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    raise AssertionError(f"{name} {labels} not exposed")


async def test_sigterm_lets_the_running_job_finish_and_leaves_the_queue_to_the_next_worker(
    job_queue: JobQueue, queue: str, workers: Workers
) -> None:
    port = free_port("127.0.0.1")
    first = workers.start(job_seconds=3, completion_wait=30, metrics_port=port)
    running = await enqueue(job_queue, queue, "running")
    waiting = await enqueue(job_queue, queue, "waiting")  # max_jobs=1: it stays queued
    await started(job_queue, "running")
    scrape = await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert metric(scrape.text, "dandelion_jobs_started_total", function="slow") == 1
    assert metric(scrape.text, "dandelion_jobs_in_progress", function="slow") == 1
    assert metric(scrape.text, "dandelion_queue_depth", queue=queue) == 2

    first.send_signal(signal.SIGTERM)
    code, seconds = await exited(first)

    assert code == 0, workers.log(0)
    assert await tries(job_queue, finished_key("running")) == [1]  # finished on its first try
    assert await result(running) == (True, 1)
    assert seconds < 30  # it left as soon as the job was done, not at the wait's end
    # The stopping worker took no new job; the waiting one is still queued, not lost.
    assert await tries(job_queue, started_key("waiting")) == []
    assert await waiting.status() == JobStatus.queued

    workers.start(job_seconds=0.1, completion_wait=30)
    assert await result(waiting) == (True, 1)


async def test_sigterm_past_the_completion_wait_requeues_the_job_for_the_next_worker(
    job_queue: JobQueue, queue: str, workers: Workers
) -> None:
    first = workers.start(job_seconds=120, completion_wait=1)
    job = await enqueue(job_queue, queue, "long")
    await started(job_queue, "long")

    first.send_signal(signal.SIGTERM)
    code, seconds = await exited(first)

    assert code == 0, workers.log(0)
    assert seconds < 20  # the wait (1 s) and arq's shutdown, far below the job's 120 s
    assert "cancelled, will be run again" in workers.log(0)
    assert await tries(job_queue, finished_key("long")) == []
    # Cancelled, not failed: still queued, and no other worker is shut out by a stale lease.
    assert await job.status() == JobStatus.queued
    assert not await job_queue.redis.exists(f"arq:in-progress:{job.job_id}")

    workers.start(job_seconds=0.1, completion_wait=30)
    assert await result(job) == (True, 2)  # the second try ran it to the end
    assert await tries(job_queue, started_key("long")) == [1, 2]
    assert await tries(job_queue, finished_key("long")) == [2]
