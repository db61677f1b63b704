"""Prometheus metrics of a worker: jobs by function and outcome, their duration, and the depth
of the queue, served at `/metrics` by a small aiohttp server the worker starts.

Outcomes follow arq's own counting: `completed`; `retried` when the job asked for it (`Retry`)
or a shutdown interrupted it (arq queues it again); `failed` for an exception, a timeout or an
abort.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from arq import Retry
from arq.connections import ArqRedis
from arq.cron import CronJob
from arq.worker import Function
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from redis.exceptions import RedisError

from dandelion_common.metrics import process_registry

logger = logging.getLogger("dandelion.jobs")

# Jobs range from a ping (milliseconds) to a checksum of a large blob (many minutes).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

F = TypeVar("F", Function, CronJob)


class JobMetrics:
    """The counters of one worker process, in a registry of its own."""

    def __init__(self, queue_name: str) -> None:
        self.queue_name = queue_name
        self.registry = registry = process_registry()
        by_function = ("queue", "function")
        self.started = Counter(
            "dandelion_jobs_started", "Jobs started.", by_function, registry=registry
        )
        self.completed = Counter(
            "dandelion_jobs_completed", "Jobs that succeeded.", by_function, registry=registry
        )
        self.failed = Counter(
            "dandelion_jobs_failed",
            "Jobs that raised, timed out or were aborted.",
            by_function,
            registry=registry,
        )
        self.retried = Counter(
            "dandelion_jobs_retried",
            "Jobs that will run again: they raised Retry or a shutdown interrupted them.",
            by_function,
            registry=registry,
        )
        self.duration = Histogram(
            "dandelion_job_duration_seconds",
            "Time from a job's start to its end, by outcome.",
            (*by_function, "outcome"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "dandelion_jobs_in_progress", "Jobs running now.", by_function, registry=registry
        )
        self.queue_depth = Gauge(
            "dandelion_queue_depth",
            "Jobs in the queue: due, deferred and waiting to retry (what KEDA scales on).",
            ("queue",),
            registry=registry,
        )
        self.queue_due = Gauge(
            "dandelion_queue_due",
            "Jobs in the queue whose time has come.",
            ("queue",),
            registry=registry,
        )

    def finished(self, function: str, outcome: str, seconds: float) -> None:
        labels = (self.queue_name, function)
        {"completed": self.completed, "failed": self.failed, "retried": self.retried}[
            outcome
        ].labels(*labels).inc()
        self.duration.labels(*labels, outcome).observe(seconds)

    async def sample_queue(self, redis: ArqRedis) -> None:
        """Read the queue's size now (at scrape time, so it is never stale)."""
        now_ms = int(time.time() * 1000)
        depth = await redis.zcard(self.queue_name)
        due = await redis.zcount(self.queue_name, "-inf", now_ms)
        self.queue_depth.labels(self.queue_name).set(depth)
        self.queue_due.labels(self.queue_name).set(due)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Stopping:
    """Set by the worker when a signal stops it; a job cancelled after that is queued again."""

    def __init__(self) -> None:
        self.stopping = False

    def set(self, *_: Any) -> None:
        self.stopping = True

    def __call__(self) -> bool:
        return self.stopping


def instrument(function: F, metrics: JobMetrics, stopping: Callable[[], bool]) -> F:
    """`function` with its runs counted and timed."""
    inner = function.coroutine
    name = function.name
    # Scheduled jobs may run every second; their successful runs are logged at debug only.
    routine = logging.DEBUG if isinstance(function, CronJob) else logging.INFO

    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        metrics.started.labels(metrics.queue_name, name).inc()
        start = time.perf_counter()
        outcome = "failed"
        try:
            with metrics.in_progress.labels(metrics.queue_name, name).track_inprogress():
                result = await inner(ctx, *args, **kwargs)
            outcome = "completed"
            return result
        except Retry:
            outcome = "retried"
            raise
        except asyncio.CancelledError:
            # Cancelled by a shutdown past job_completion_wait: arq runs the job again.
            # Otherwise by arq's job timeout or an abort, which end the job.
            outcome = "retried" if stopping() else "failed"
            raise
        finally:
            seconds = time.perf_counter() - start
            metrics.finished(name, outcome, seconds)
            level = routine if outcome == "completed" else logging.INFO
            _log_finished(level, ctx, name, outcome, seconds)

    run.__qualname__ = run.__name__ = getattr(inner, "__name__", name)
    return dataclasses.replace(function, coroutine=run)


def _log_finished(level: int, ctx: dict[str, Any], name: str, outcome: str, seconds: float) -> None:
    fields = {"function": name, "outcome": outcome, "duration_s": round(seconds, 3)}
    ids = {"job_id": ctx.get("job_id"), "job_try": ctx.get("job_try")}
    logger.log(level, "job finished", extra=fields | ids)


async def serve_metrics(
    metrics: JobMetrics, redis: ArqRedis, *, host: str, port: int
) -> web.AppRunner:
    """Start `GET /metrics` on host:port; the caller cleans the returned runner up."""

    async def scrape(_: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(metrics.sample_queue(redis), timeout=2)
        except (RedisError, OSError, TimeoutError) as exc:
            # The job counters are still worth serving; the queue gauges keep their last value.
            logger.warning("queue depth unavailable: %r", exc)
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.info("metrics served", extra={"host": host, "port": port, "path": "/metrics"})
    return runner
