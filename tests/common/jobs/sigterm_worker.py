"""A real worker process for test_sigterm: `dandelion worker` with a slow job instead of a
service's functions. It is built by the same `build_worker` (arq's signal handling, the
job completion wait, the per-pod health key, /metrics), so SIGTERM meets the production path.

Usage: python sigterm_worker.py QUEUE  (settings from DANDELION_*; SLOW_JOB_SECONDS)
"""

from __future__ import annotations

import asyncio
import os
import sys

from dandelion_common.jobs.contracts import JobContract, Payload
from dandelion_common.jobs.worker import Context, build_worker, handler
from dandelion_common.logging import configure_logging
from dandelion_common.settings import Settings


class Slow(Payload):
    token: str


def slow_contract(queue: str) -> JobContract[Slow]:
    return JobContract("slow", queue, Slow, key=lambda p: p.token)


def started_key(token: str) -> str:
    return f"test-sigterm:{token}:started"


def finished_key(token: str) -> str:
    return f"test-sigterm:{token}:finished"


async def slow(ctx: Context, payload: Slow) -> int:
    """Record each try's start and end; sleep between (a job's work, interruptible)."""
    redis = ctx["redis"]
    await redis.rpush(started_key(payload.token), ctx["job_try"])
    await asyncio.sleep(float(os.environ["SLOW_JOB_SECONDS"]))
    await redis.rpush(finished_key(payload.token), ctx["job_try"])
    return int(ctx["job_try"])


def main(queue: str) -> None:
    settings = Settings()
    configure_logging(settings.logging, service="worker-sigterm-test")
    function = handler(slow_contract(queue))(slow)
    build_worker(queue, [function], settings, resources=None).run()


if __name__ == "__main__":
    main(sys.argv[1])
