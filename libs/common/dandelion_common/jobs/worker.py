"""The consumer side: an arq worker per service queue, with its typed clients built at
startup (`jobs.resources`), a per-process health key, Prometheus metrics, and `job_session`
as the one commit point of a job step."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from arq import Retry
from arq.connections import ArqRedis
from arq.cron import CronJob
from arq.worker import Function, Worker, func
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.errors import TRANSIENT_ERRORS
from dandelion_common.jobs import resources as _resources
from dandelion_common.jobs.buffer import flush_committed_jobs
from dandelion_common.jobs.contracts import JobContract, P, PingPayload, Queue, ping_contract
from dandelion_common.jobs.metrics import JobMetrics, Stopping, instrument, serve_metrics
from dandelion_common.jobs.queue import REDIS_UNAVAILABLE, arq_redis_settings
from dandelion_common.jobs.resources import RESOURCES_KEY, WorkerResources, worker_resources
from dandelion_common.schema import configure_dandischema
from dandelion_common.settings import Settings

Context = _resources.Context  # job modules take the worker's vocabulary from this module
logger = logging.getLogger("dandelion.jobs")
RETRY_MAX_SECONDS = 60
Handler = Callable[[Context, P], Awaitable[Any]]
# A worker module's scheduled job, built from settings at startup (its period is configured);
# None means the schedule is switched off.
CronFactory = Callable[[Settings], CronJob | None]
# Run once the worker's clients exist; raising stops the worker before it takes a job.
StartupCheck = Callable[[Context], Awaitable[None]]


def retry_delay(attempt: int) -> float:
    return float(min(RETRY_MAX_SECONDS, 2**attempt))


def handler(contract: JobContract[P]) -> Callable[[Handler[P]], Function]:
    """Register `fn` as the worker side of `contract`; it receives the parsed payload."""

    def decorate(fn: Handler[P]) -> Function:
        async def run(ctx: Context, **kwargs: Any) -> Any:
            try:
                return await fn(ctx, contract.payload.model_validate(kwargs))
            except TRANSIENT_ERRORS as exc:
                # The database, Redis or S3 is briefly away: try again later (jobs are
                # idempotent), backing off; arq gives up after its max_tries.
                delay = retry_delay(ctx.get("job_try", 1))
                logger.warning("job %s retried in %s s: %r", contract.name, delay, exc)
                raise Retry(defer=delay) from exc

        run.__qualname__ = run.__name__ = fn.__name__
        return func(
            run,
            name=contract.name,
            max_tries=contract.max_tries,
            keep_result=contract.keep_result_seconds,
        )

    return decorate


def health_key(queue: Queue | str, *, host: str | None = None, pid: int | None = None) -> str:
    """One key per worker process, so a probe checks this pod's worker, not any worker."""
    name = queue.value if isinstance(queue, Queue) else queue
    return f"dandelion:health:{name}:{host or socket.gethostname()}:{pid or os.getpid()}"


def ping_handler(queue: Queue) -> Function:
    @handler(ping_contract(queue))
    async def ping(ctx: Context, payload: PingPayload) -> dict[str, str]:
        return {"token": payload.token, "worker": ctx["health_key"]}

    return ping


@asynccontextmanager
async def job_session(ctx: Context) -> AsyncIterator[AsyncSession]:
    """A session for one job step: commits once when the block ends, then sends the jobs it
    buffered. Remote I/O (S3, DataCite, an NWB read) belongs outside the block, never inside
    it: a transaction held across it holds its row locks and a pooled connection for as long."""
    resources = worker_resources(ctx, WorkerResources)
    async with resources.db.session() as session:
        yield session
        await session.commit()
    await flush_committed_jobs(session, resources.queue)


async def _start_metrics(ctx: Context) -> None:
    settings: Settings = ctx["settings"]
    port = settings.worker.metrics_port
    if port is not None:
        host = settings.worker.metrics_host
        ctx["metrics_server"] = await serve_metrics(
            ctx["metrics"], ctx["redis"], host=host, port=port
        )


async def _on_startup(ctx: Context) -> None:
    kind: type[WorkerResources] | None = ctx["resources_kind"]
    if kind is not None:
        ctx[RESOURCES_KEY] = await kind.open(ctx["settings"], ctx["redis"], name=ctx["queue_name"])
        for check in ctx["startup_checks"]:
            await check(ctx)
    await _start_metrics(ctx)


async def _on_shutdown(ctx: Context) -> None:
    if "metrics_server" in ctx:
        await ctx.pop("metrics_server").cleanup()
    if RESOURCES_KEY in ctx:
        await ctx.pop(RESOURCES_KEY).close()


REDIS_RETRY_SECONDS = 1.0


class OutageTolerantWorker(Worker):
    """arq's worker, kept alive while Redis is away.

    arq lets a Redis error out of its poll loop, which ends the process: after a Redis blip
    every worker pod restarts at once (into Kubernetes' crash back-off), and `make run` loses
    its workers. Here the loop waits and polls again. Jobs keep running meanwhile; one that
    ended while its result could not be recorded runs again when its lease expires (jobs are
    idempotent), and queued jobs wait in Redis (which persists them).
    """

    redis_down_since: float | None = None

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_UNAVAILABLE as exc:
            if self.redis_down_since is None:
                self.redis_down_since = time.monotonic()
                logger.warning("redis unavailable, the worker waits for it: %r", exc)
            await asyncio.sleep(REDIS_RETRY_SECONDS)
            return
        if self.redis_down_since is not None:
            away = time.monotonic() - self.redis_down_since
            logger.info("redis is back", extra={"away_s": round(away, 1)})
            self.redis_down_since = None

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except REDIS_UNAVAILABLE:
                # arq takes a job slot before its Redis calls, and would never give it back.
                self.job_counter -= 1
                self.sem.release()
                raise


def build_worker(
    queue: Queue | str,
    functions: Sequence[Function],
    settings: Settings,
    *,
    cron_jobs: Sequence[CronFactory] = (),
    startup_checks: Sequence[StartupCheck] = (),
    burst: bool = False,
    redis_pool: ArqRedis | None = None,
    resources: type[WorkerResources] | None = WorkerResources,
    handle_signals: bool = True,
) -> Worker:
    """An arq worker for `queue`, running `cron_jobs` as scheduled by `settings`, its jobs
    given the clients of `resources` (built at startup; None builds none: tests, ping)."""
    queue_name = queue.redis_name if isinstance(queue, Queue) else queue
    key = health_key(queue)
    configure_dandischema(settings.instance)  # before any job imports dandischema.models
    metrics, stopping = JobMetrics(queue_name), Stopping()
    ctx: Context = {
        "settings": settings,
        "queue_name": queue_name,
        "health_key": key,
        "metrics": metrics,
        "resources_kind": resources,
        "startup_checks": list(startup_checks),
    }
    crons = [job for make in cron_jobs if (job := make(settings)) is not None]
    worker = OutageTolerantWorker(
        [instrument(f, metrics, stopping) for f in functions],
        cron_jobs=[instrument(job, metrics, stopping) for job in crons],
        queue_name=queue_name,
        redis_settings=arq_redis_settings(settings.redis),
        redis_pool=redis_pool,
        burst=burst,
        ctx=ctx,
        on_startup=_on_startup,
        on_shutdown=_on_shutdown,
        max_jobs=settings.worker.max_jobs,
        job_timeout=settings.worker.job_timeout_seconds,
        # On SIGTERM, running jobs get this long to finish; past it they are cancelled and
        # stay queued, so another worker re-runs them (jobs are idempotent).
        job_completion_wait=settings.worker.job_completion_wait_seconds,
        health_check_interval=settings.worker.health_check_interval_seconds,
        poll_delay=settings.worker.poll_delay_seconds,
        health_check_key=key,
        handle_signals=handle_signals,
    )
    # arq calls this once it has cancelled the running jobs of a stopping worker.
    worker.on_stop = stopping.set
    return worker
