"""Enqueue after commit: jobs asked for inside a transaction are sent only once it commits.

`enqueue_after_commit` parks the job on the session. SQLAlchemy's `after_commit` event moves
parked jobs to the ready list and `after_rollback` drops them, so a rolled-back transaction
never leaks a job. The commit point then awaits `flush_committed_jobs` to send ready jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from dandelion_common.jobs.contracts import JobContract, Payload
from dandelion_common.jobs.queue import REDIS_UNAVAILABLE, JobQueue

logger = logging.getLogger("dandelion.jobs")
_PENDING = "dandelion.jobs.pending"
_READY = "dandelion.jobs.ready"


@dataclass(frozen=True)
class _BufferedJob:
    contract: JobContract[Any]
    payload: Payload


def enqueue_after_commit(
    session: AsyncSession, contract: JobContract[Any], payload: Payload
) -> None:
    """Send `payload` to `contract`'s queue once the session's transaction commits."""
    contract.payload.model_validate(payload.model_dump())  # fail now, not in the worker
    session.sync_session.info.setdefault(_PENDING, []).append(_BufferedJob(contract, payload))


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


async def flush_committed_jobs(session: AsyncSession, queue: JobQueue) -> int:
    """Send every job whose transaction has committed; returns how many were sent.

    A job Redis cannot take now is logged and dropped, never raised: its transaction has
    committed, so the caller must hear success (a 503 would invite a retry of a write that
    happened, as `/validate/` of an upload it deleted). The database still says the work is
    due, so a scheduled reconcile that reads it can ask for the job again.
    """
    ready: list[_BufferedJob] = session.sync_session.info.pop(_READY, [])
    sent = 0
    for job in ready:
        try:
            await queue.enqueue(job.contract, job.payload)
        except REDIS_UNAVAILABLE as exc:
            _log_unsent(job, exc)
        else:
            sent += 1
    return sent


def refuse_committed_jobs(session: AsyncSession, *, process: str) -> None:
    """The commit point of a process without a job queue: asking it for a job is a bug."""
    ready: list[_BufferedJob] = session.sync_session.info.pop(_READY, [])
    if ready:
        names = ", ".join(sorted({job.contract.name for job in ready}))
        raise RuntimeError(f"{process} has no job queue, yet a request asked for: {names}")


def _log_unsent(job: _BufferedJob, exc: Exception) -> None:
    fields = {"job": job.contract.name, "job_id": job.contract.job_id(job.payload)}
    logger.error("job not sent, redis unavailable: %r", exc, extra=fields)
