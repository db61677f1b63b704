"""The search worker's jobs: drain the outbox every second, and on demand."""

from __future__ import annotations

from arq.cron import CronJob, cron
from arq.worker import Function

from dandelion_common.jobs.contracts import JobContract, Payload, Queue
from dandelion_common.jobs.worker import Context, close_at_shutdown, handler
from dandelion_common.settings import Settings
from dandelion_search.backends import SearchBackend, make_backend
from dandelion_search.indexer import drain


class DrainRequest(Payload):
    pass


# On demand (e.g. after a bulk import); the fixed id makes a burst of requests one job.
DRAIN_OUTBOX = JobContract("drain_outbox", Queue.SEARCH, DrainRequest, key=lambda _: "all")


def search_backend(ctx: Context) -> SearchBackend:
    """One backend per worker process, made on first use from the worker's settings."""
    backend: SearchBackend | None = ctx.get("search_backend")
    if backend is None:
        backend = ctx["search_backend"] = make_backend(ctx["settings"], ctx["db"])
        close_at_shutdown(ctx, backend.close)
    return backend


async def drain_outbox(ctx: Context) -> int:
    """Index every committed change waiting in the outbox; returns the rows processed."""
    return await drain(ctx["db"], search_backend(ctx))


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
