"""A job's one commit point: its writes and the jobs it buffers leave together, or not at all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq import Retry
from arq.jobs import Job, JobStatus
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from dandelion_common.db.models import AuditRecord
from dandelion_common.db.session import Database
from dandelion_common.errors import StorageUnavailable
from dandelion_common.jobs import JobContract, JobQueue, enqueue_after_commit
from dandelion_common.jobs.contracts import Payload
from dandelion_common.jobs.resources import WorkerResources, job_context, worker_resources
from dandelion_common.jobs.worker import (
    Context,
    _on_shutdown,
    _on_startup,
    build_worker,
    handler,
    health_key,
    job_session,
    retry_delay,
)
from dandelion_common.settings import Settings

QUEUE = f"dandelion:queue:test-worker-{uuid.uuid4().hex[:8]}"


class Marker(Payload):
    marker: str


FOLLOW_UP = JobContract("follow_up", QUEUE, Marker, key=lambda p: p.marker)


@pytest.fixture
async def ctx(engine: AsyncEngine, job_queue: JobQueue) -> AsyncIterator[Context]:
    db = Database(engine, async_sessionmaker(engine, expire_on_commit=False))
    settings = Settings()
    yield job_context(WorkerResources(settings=settings, db=db, queue=job_queue))
    async with db.session() as session:
        await session.execute(delete(AuditRecord).where(AuditRecord.record_type.like("job-%")))
        await session.commit()


async def rows(ctx: Context, marker: str) -> int:
    async with worker_resources(ctx, WorkerResources).db.session() as session:
        query = select(func.count()).where(AuditRecord.record_type == marker)
        return int(await session.scalar(query) or 0)


async def status(ctx: Context, marker: str) -> JobStatus:
    job_id = FOLLOW_UP.job_id(Marker(marker=marker))
    assert job_id is not None
    redis = worker_resources(ctx, WorkerResources).queue.redis
    return await Job(job_id, redis, _queue_name=QUEUE).status()


def row(marker: str) -> AuditRecord:
    return AuditRecord(
        dandiset_id=1, username="w", user_email="", user_fullname="", record_type=marker, details={}
    )


async def test_job_session_commits_then_sends(ctx: Context) -> None:
    marker = f"job-{uuid.uuid4().hex[:8]}"
    async with job_session(ctx) as session:
        session.add(row(marker))
        enqueue_after_commit(session, FOLLOW_UP, Marker(marker=marker))
        assert await status(ctx, marker) == JobStatus.not_found  # not before the commit
    assert await rows(ctx, marker) == 1
    assert await status(ctx, marker) == JobStatus.queued


async def job_that_fails_after_writing(ctx: Context, marker: str) -> None:
    async with job_session(ctx) as session:
        session.add(row(marker))
        await session.flush()
        enqueue_after_commit(session, FOLLOW_UP, Marker(marker=marker))
        raise RuntimeError("transient outage")


async def test_failed_job_writes_nothing_and_sends_nothing(ctx: Context) -> None:
    marker = f"job-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match="transient"):
        await job_that_fails_after_writing(ctx, marker)
    assert await rows(ctx, marker) == 0
    assert await status(ctx, marker) == JobStatus.not_found


def test_health_keys_are_per_process() -> None:
    a = health_key("ingest", host="pod-a", pid=1)
    assert a == "dandelion:health:ingest:pod-a:1"
    assert (
        a != health_key("ingest", host="pod-b", pid=1) != health_key("ingest", host="pod-a", pid=2)
    )


@pytest.mark.parametrize(
    "outage",
    [StorageUnavailable("s3 down"), ConnectionRefusedError("db down"), TimeoutError("slow")],
)
async def test_a_transient_outage_becomes_a_deferred_retry(outage: Exception) -> None:
    @handler(FOLLOW_UP)
    async def flaky(ctx: Context, payload: Marker) -> str:
        raise outage

    with pytest.raises(Retry) as raised:
        await flaky.coroutine({"job_try": 3}, marker="m")
    assert raised.value.defer_score == retry_delay(3) * 1000 == 8000


async def test_a_bug_is_not_retried_as_an_outage() -> None:
    @handler(FOLLOW_UP)
    async def buggy(ctx: Context, payload: Marker) -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await buggy.coroutine({"job_try": 1}, marker="m")


class Recorded(WorkerResources):
    """Resources that say when they are built and closed."""

    events: list[str] = []

    @classmethod
    async def open(cls, settings: Settings, redis: Any, *, name: str) -> Recorded:
        cls.events.append(f"open {name}")
        return cls(settings=settings, db=None, queue=None)  # type: ignore[arg-type]

    async def close(self) -> None:
        self.events.append("close")


async def test_the_worker_builds_its_resources_kind_at_startup_and_closes_it_at_shutdown() -> None:
    settings = Settings()
    ctx: Context = {
        "settings": settings,
        "redis": None,
        "queue_name": "q",
        "resources_kind": Recorded,
    }
    checked: list[type] = []

    async def check(ctx: Context) -> None:  # startup checks see the built resources
        checked.append(type(worker_resources(ctx, Recorded)))

    ctx["startup_checks"] = [check]
    await _on_startup(ctx)
    assert (Recorded.events, checked) == (["open q"], [Recorded])
    with pytest.raises(TypeError):  # a job asking for another worker's kind fails at once
        worker_resources(ctx, SubRecorded)
    await _on_shutdown(ctx)
    await _on_shutdown(ctx)
    assert Recorded.events == ["open q", "close"]  # closed once


class SubRecorded(Recorded):
    pass


SEEN = JobContract("seen", QUEUE, Marker, key=lambda p: p.marker)
seen_resources: list[int] = []


@handler(SEEN)
async def see(ctx: Context, payload: Marker) -> None:
    seen_resources.append(id(worker_resources(ctx, Counted)))


class Counted(WorkerResources):
    opened = 0
    closed = 0

    @classmethod
    async def open(cls, settings: Settings, redis: Any, *, name: str) -> Counted:
        cls.opened += 1
        return await super().open(settings, redis, name=name)

    async def close(self) -> None:
        type(self).closed += 1
        await super().close()


async def test_every_job_of_a_worker_shares_the_clients_built_at_its_start(
    settings: Settings, job_queue: JobQueue
) -> None:
    # arq hands each job a copy of the worker's context: a client a job made and stored in
    # it was made again by the next job, and never closed.
    for marker in ("a", "b", "c"):
        await job_queue.enqueue(SEEN, Marker(marker=f"seen-{marker}-{uuid.uuid4().hex[:6]}"))
    worker = build_worker(
        QUEUE, [see], settings, burst=True, resources=Counted, handle_signals=False
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    assert len(seen_resources) == 3
    assert len(set(seen_resources)) == 1
    assert (Counted.opened, Counted.closed) == (1, 1)
