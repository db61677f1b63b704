"""A worker's metrics (jobs by function and outcome, the queue's depth at scrape time) and its
per-pod health probe."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
from arq import Retry
from arq.worker import Function, func
from click.testing import CliRunner

from dandelion_common.cli import main
from dandelion_common.devstack.process import free_port
from dandelion_common.jobs.metrics import JobMetrics, Stopping, instrument, serve_metrics
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.worker import build_worker, health_key
from dandelion_common.settings import Settings, get_settings

QUEUE = "dandelion:queue:test-metrics"


def value(metrics: JobMetrics, name: str, function: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(
        name, {"queue": QUEUE, "function": function, **labels}
    )
    return found or 0.0


async def run(function: Function, metrics: JobMetrics, stopping: Stopping) -> None:
    await instrument(function, metrics, stopping).coroutine({"job_id": "j", "job_try": 1})


def job(name: str, outcome: BaseException | None) -> Function:
    async def work(ctx: dict[str, Any]) -> str:
        if outcome is not None:
            raise outcome
        return "done"

    return func(work, name=name)


@pytest.mark.parametrize(
    ("outcome", "stopping", "counted"),
    [
        (None, False, "completed"),
        (ValueError("bug"), False, "failed"),
        (Retry(defer=1), False, "retried"),
        # Cancelled by a stopping worker: arq queues it again.
        (asyncio.CancelledError(), True, "retried"),
        # Cancelled otherwise (arq's job timeout, an abort): the job ends.
        (asyncio.CancelledError(), False, "failed"),
    ],
)
async def test_each_run_is_counted_once_by_outcome(
    outcome: BaseException | None, stopping: bool, counted: str
) -> None:
    metrics, flag = JobMetrics(QUEUE), Stopping()
    if stopping:
        flag.set()
    if outcome is None:
        await run(job("work", outcome), metrics, flag)
    else:
        with pytest.raises(type(outcome)):
            await run(job("work", outcome), metrics, flag)
    assert value(metrics, "dandelion_jobs_started_total", "work") == 1
    for each in ("completed", "failed", "retried"):
        assert value(metrics, f"dandelion_jobs_{each}_total", "work") == (each == counted)
    assert value(metrics, "dandelion_job_duration_seconds_count", "work", outcome=counted) == 1
    assert value(metrics, "dandelion_jobs_in_progress", "work") == 0


async def test_the_worker_runs_its_functions_instrumented(settings: Settings) -> None:
    functions = [job("work", None)]
    worker = build_worker(QUEUE, functions, settings, resources=None, handle_signals=False)
    metrics: JobMetrics = worker.ctx["metrics"]
    await worker.functions["work"].coroutine({})
    assert value(metrics, "dandelion_jobs_completed_total", "work") == 1


async def test_metrics_report_the_queue_depth_at_scrape_time(job_queue: JobQueue) -> None:
    queue = f"dandelion:queue:test-metrics-{uuid.uuid4().hex[:8]}"
    later = datetime.now(UTC) + timedelta(hours=1)
    await job_queue.redis.enqueue_job("work", _queue_name=queue)
    await job_queue.redis.enqueue_job("work", _queue_name=queue, _defer_until=later)
    metrics, port = JobMetrics(queue), free_port("127.0.0.1")
    runner = await serve_metrics(metrics, job_queue.redis, host="127.0.0.1", port=port)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await runner.cleanup()
        await job_queue.redis.delete(queue)
    assert response.status_code == 200
    assert f'dandelion_queue_depth{{queue="{queue}"}} 2.0' in response.text
    assert f'dandelion_queue_due{{queue="{queue}"}} 1.0' in response.text  # one is deferred


@pytest.fixture
def probe_env(settings: Settings) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"DANDELION_REDIS__URL": settings.redis.url}
    get_settings.cache_clear()


def probe(env: dict[str, str], queue: str) -> int:
    return CliRunner().invoke(main, ["worker-health", queue], env=env).exit_code


def test_the_probe_finds_this_pods_worker_only(probe_env: dict[str, str]) -> None:
    client = redis.Redis.from_url(probe_env["DANDELION_REDIS__URL"])
    elsewhere = health_key("doi", host=f"other-pod-{uuid.uuid4().hex[:6]}", pid=1)
    client.set(elsewhere, b"ok", px=10_000)
    try:
        assert probe(probe_env, "doi") == 1  # another pod's worker is no proof of this one
        here = health_key("doi", host=socket.gethostname(), pid=1)
        client.set(here, b"ok", px=10_000)
        assert probe(probe_env, "doi") == 0
        client.delete(here)
        assert probe(probe_env, "doi") == 1
    finally:
        client.delete(elsewhere)
        client.close()


def test_an_unreachable_redis_restarts_no_worker(probe_env: dict[str, str]) -> None:
    closed = f"redis://127.0.0.1:{free_port('127.0.0.1')}/0"
    assert probe({"DANDELION_REDIS__URL": closed}, "ingest") == 0
