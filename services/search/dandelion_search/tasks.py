"""The search worker's jobs: drain the outbox every second, and on demand."""

from __future__ import annotations

from arq.cron import CronJob, cron
from arq.worker import Function

from dandelion_common.jobs.contracts import JobContract, Payload, Queue
from dandelion_common.jobs.resources import worker_resources
from dandelion_common.jobs.worker import Context, handler
from dandelion_common.settings import Settings
from dandelion_search.indexer import drain
from dandelion_search.resources import SearchWorkerResources


class DrainRequest(Payload):
    pass


# On demand (e.g. after a bulk import); the fixed id makes a burst of requests one job.
DRAIN_OUTBOX = JobContract("drain_outbox", Queue.SEARCH, DrainRequest, key=lambda _: "all")


async def drain_outbox(ctx: Context) -> int:
    """Index every committed change waiting in the outbox; returns the rows processed."""
    resources = worker_resources(ctx, SearchWorkerResources)
    return await drain(resources.db, resources.search)


@handler(DRAIN_OUTBOX)
async def drain_outbox_now(ctx: Context, payload: DrainRequest) -> int:
    return await drain_outbox(ctx)


def drain_cron(settings: Settings) -> CronJob:
    """Every second, so a commit is searchable within about a second plus indexing time.

    A tick that finds another drain running returns at once (the drain holds an advisory
    lock), and `unique` makes one worker of many run each tick.
    """
    return cron(
        drain_outbox,
        name="drain_outbox_tick",  # not the on-demand job's name: arq keys both by name
        second=set(range(60)),
        unique=True,
        run_at_startup=True,
        keep_result=0,
    )


FUNCTIONS: list[Function] = [drain_outbox_now]
