"""The reader pool: results come back, a hung or crashed reader becomes a readable failure
with a fresh process for the next file, and the number of reader processes never exceeds the
pool's size (an ingest worker once held 9 to 14 of them, 170 MB each)."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings
from dandelion_ingest.pool import ReaderFailed, ReaderPool, RemoteTraceback
from dandelion_ingest.resources import IngestResources


@pytest.fixture
def pool() -> Iterator[ReaderPool]:
    readers = ReaderPool()
    yield readers
    readers.close()


async def test_a_result_comes_back(pool: ReaderPool) -> None:
    assert await pool.run(60, math.sqrt, 16.0) == 4.0
    assert not pool.busy


async def test_a_reader_past_its_deadline_is_killed_and_replaced(pool: ReaderPool) -> None:
    with pytest.raises(ReaderFailed, match="longer than"):
        await pool.run(0.5, time.sleep, 30)
    assert not pool.busy
    assert await pool.run(60, math.sqrt, 9.0) == 3.0


async def test_a_crashed_reader_is_replaced(pool: ReaderPool) -> None:
    with pytest.raises(ReaderFailed, match="crashed"):
        await pool.run(60, os._exit, 1)
    assert await pool.run(60, math.sqrt, 4.0) == 2.0


async def test_an_exception_comes_back_with_the_readers_traceback(pool: ReaderPool) -> None:
    with pytest.raises(ValueError, match="math domain error") as raised:
        await pool.run(60, math.sqrt, -1.0)
    assert isinstance(raised.value.__cause__, RemoteTraceback)
    assert "Traceback" in str(raised.value.__cause__)
    assert await pool.run(60, math.sqrt, 1.0) == 1.0


async def test_a_cancelled_call_leaves_no_answer_for_the_next(pool: ReaderPool) -> None:
    call = asyncio.create_task(pool.run(60, time.sleep, 0.5))
    await asyncio.sleep(0.1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await pool.run(60, math.sqrt, 25.0) == 5.0


async def test_closing_ends_a_running_call_at_once() -> None:
    pool = ReaderPool()
    call = asyncio.create_task(pool.run(60, time.sleep, 60))
    await asyncio.sleep(0.5)
    pool.close()  # the worker shutting down
    with pytest.raises(ReaderFailed, match="crashed"):
        await asyncio.wait_for(call, 5)
    assert readers(set()) == []


# --- the bound ---------------------------------------------------------------------------

WORKERS = 2
TASK_LIMIT = 5
CALLERS = 4  # the ingest worker's default max_jobs: jobs share a pool
CALLS = 200
CRASH, HANG = 40, 120  # the calls that crash their reader and run past their deadline
FAILING = {70, 71, 150}  # calls whose function raises: the reader survives those


def readers(before: set[int]) -> list[psutil.Process]:
    """This process's reader children: spawned interpreters, zombies included (the session's
    servers and multiprocessing's resource tracker are children too, of other kinds)."""
    found = []
    for child in psutil.Process().children():
        try:
            if child.pid not in before and (
                child.status() == psutil.STATUS_ZOMBIE or "spawn_main" in " ".join(child.cmdline())
            ):
                found.append(child)
        except psutil.NoSuchProcess:
            pass  # it exited between the listing and the look
    return found


class Watch(threading.Thread):
    """The most reader processes seen at once, looked at every few milliseconds: a successor
    started before its predecessor has gone would show between two calls' ends."""

    def __init__(self, before: set[int]) -> None:
        super().__init__(daemon=True)
        self.before, self.most, self.done = before, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.most = max(self.most, len(readers(self.before)))


def call(n: int) -> tuple[float, Callable[..., Any], tuple[Any, ...]]:
    if n == CRASH:
        return 60, os._exit, (1,)
    if n == HANG:
        return 1, time.sleep, (60,)
    if n in FAILING:
        return 60, math.sqrt, (-1.0,)
    return 60, math.sqrt, (float(n * n),)


async def test_reader_processes_never_exceed_the_pools_size() -> None:
    before = {child.pid for child in psutil.Process().children()}
    pool = ReaderPool(WORKERS, max_tasks_per_child=TASK_LIMIT)
    watch = Watch(before)
    watch.start()
    outcomes: dict[int, Any] = {}
    counts: list[int] = []
    numbers = iter(range(CALLS))

    async def caller() -> None:
        for n in numbers:
            deadline, fn, args = call(n)
            try:
                outcomes[n] = await pool.run(deadline, fn, *args)
            except (ReaderFailed, ValueError) as exc:
                outcomes[n] = str(exc)
            counts.append(len(readers(before)))

    try:
        await asyncio.gather(*(caller() for _ in range(CALLERS)))
    finally:
        pool.close()
        watch.done.set()
        watch.join()
    left = readers(before)

    assert max(counts) <= WORKERS, counts
    assert watch.most <= WORKERS
    assert left == [], "close() leaves no reader process, not even a zombie"
    # A crash or a deadline fails its own call only: the calls beside it get their answers.
    assert outcomes.pop(CRASH) == "the file reader crashed on this file"
    assert outcomes.pop(HANG) == "reading the file took longer than 1 s"
    assert {outcomes.pop(n) for n in FAILING} == {"math domain error"}
    assert outcomes == {n: float(n) for n in outcomes}
    assert len(outcomes) == CALLS - 2 - len(FAILING)


async def test_the_ingest_workers_pools_are_as_configured(
    settings: Settings, job_queue: JobQueue
) -> None:
    worker = settings.worker.model_copy(
        update={"ingest_extraction_readers": 3, "ingest_inspection_readers": 2}
    )
    configured = settings.model_copy(update={"worker": worker})
    resources = await IngestResources.open(configured, job_queue.redis, name="ingest")
    try:
        assert resources.extraction_readers.workers == 3
        assert resources.inspection_readers.workers == 2
    finally:
        await resources.close()
