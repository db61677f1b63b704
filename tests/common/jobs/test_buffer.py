"""Jobs leave only with their transaction: rolled back → never run; committed → run once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dandelion_common.db.models import AuditRecord
from dandelion_common.jobs import JobContract, JobQueue, enqueue_after_commit, flush_committed_jobs
from dandelion_common.jobs.contracts import Payload
from dandelion_common.jobs.worker import Context, build_worker, handler
from dandelion_common.settings import Settings

QUEUE = f"dandelion:queue:test-buffer-{uuid.uuid4().hex[:8]}"


class CountPayload(Payload):
    token: str


COUNT = JobContract("count_runs", QUEUE, CountPayload, key=lambda p: p.token)


@handler(COUNT)
async def count_runs(ctx: Context, payload: CountPayload) -> None:
    await ctx["redis"].incr(f"test:runs:{payload.token}")


AGAIN = JobContract(
    "count_again", QUEUE, CountPayload, key=lambda p: p.token, keep_result_seconds=0
)


@handler(AGAIN)
async def count_again(ctx: Context, payload: CountPayload) -> None:
    await ctx["redis"].incr(f"test:runs:{payload.token}")


async def run_worker(settings: Settings) -> None:
    worker = build_worker(
        QUEUE,
        [count_runs, count_again],
        settings,
        burst=True,
        resources=None,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def runs(queue: JobQueue, token: str) -> int:
    return int(await queue.redis.get(f"test:runs:{token}") or 0)


@pytest.fixture
async def real_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits are real (the buffer reacts to the outermost commit)."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
        await session.execute(delete(AuditRecord).where(AuditRecord.record_type == "test_buffer"))
        await session.commit()


def audit_row() -> AuditRecord:
    return AuditRecord(
        dandiset_id=1,
        username="t",
        user_email="t@example.org",
        user_fullname="T",
        record_type="test_buffer",
        details={},
    )


async def test_rolled_back_job_never_runs(
    real_session: AsyncSession, job_queue: JobQueue, settings: Settings
) -> None:
    token = uuid.uuid4().hex
    real_session.add(audit_row())
    enqueue_after_commit(real_session, COUNT, CountPayload(token=token))
    await real_session.rollback()
    real_session.add(audit_row())
    await real_session.commit()  # a later commit must not resurrect the dropped job
    assert await flush_committed_jobs(real_session, job_queue) == 0
    await run_worker(settings)
    assert await runs(job_queue, token) == 0


async def test_committed_job_runs_exactly_once(
    real_session: AsyncSession, job_queue: JobQueue, settings: Settings
) -> None:
    token = uuid.uuid4().hex
    real_session.add(audit_row())
    enqueue_after_commit(real_session, COUNT, CountPayload(token=token))
    enqueue_after_commit(real_session, COUNT, CountPayload(token=token))  # same deterministic id
    assert await flush_committed_jobs(real_session, job_queue) == 0  # nothing before commit
    await real_session.commit()
    assert await flush_committed_jobs(real_session, job_queue) == 2
    await run_worker(settings)
    await run_worker(settings)
    assert await runs(job_queue, token) == 1


def test_payloads_are_checked_when_enqueued() -> None:
    with pytest.raises(ValueError, match="token"):
        CountPayload.model_validate({"token": None})


@pytest.mark.parametrize(("contract", "second_run"), [(COUNT, False), (AGAIN, True)])
async def test_a_job_id_is_free_again_once_done_only_without_a_kept_result(
    job_queue: JobQueue, settings: Settings, contract: JobContract[CountPayload], second_run: bool
) -> None:
    """arq refuses a job id while its result is kept (an hour by default): right for work done
    once, wrong for work a user may rightly ask for again (a second publish, a re-finalize)."""
    token = uuid.uuid4().hex
    assert await job_queue.enqueue(contract, CountPayload(token=token)) is not None
    await run_worker(settings)
    accepted = await job_queue.enqueue(contract, CountPayload(token=token)) is not None
    assert accepted is second_run
    await run_worker(settings)
    assert await runs(job_queue, token) == (2 if second_run else 1)


def test_jobs_users_may_ask_for_again_keep_no_result() -> None:
    from dandelion_common.jobs.contracts import INGEST_ZARR, PUBLISH_VERSION

    assert PUBLISH_VERSION.keep_result_seconds == INGEST_ZARR.keep_result_seconds == 0
