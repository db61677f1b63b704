"""A worker process's clients, typed: one object in arq's context instead of string keys.

Every worker has its settings, the database and the job queue (on arq's own Redis pool). A
service's worker subclasses `WorkerResources` with exactly the clients its jobs use (the
ingest worker adds S3 and its NWB readers, the search worker its engine, the doi worker its
DataCite client) and names the class as its module's `RESOURCES`; the worker builds it at
startup and closes it at shutdown. A job reaches it with `worker_resources(ctx, Kind)`, which
checks the kind, so a job run by the wrong worker fails at once rather than on a missing key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self, TypeVar

from arq.connections import ArqRedis

from dandelion_common.db.session import Database
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings

Context = dict[str, Any]  # arq's job context: its own keys (job_try, redis, ...) and ours
RESOURCES_KEY = "resources"


@dataclass
class WorkerResources:
    settings: Settings
    db: Database
    queue: JobQueue

    @classmethod
    async def open(cls, settings: Settings, redis: ArqRedis, *, name: str) -> Self:
        """Build the clients; subclasses add theirs (override, calling `base_clients`)."""
        return cls(**base_clients(settings, redis, name=name))

    async def close(self) -> None:
        await self.db.dispose()


def base_clients(settings: Settings, redis: ArqRedis, *, name: str) -> dict[str, Any]:
    """The fields every worker's resources share, for a subclass's `open`."""
    db = Database.connect(settings.postgres, application_name=f"dandelion-{name}")
    return {"settings": settings, "db": db, "queue": JobQueue(redis)}


R = TypeVar("R", bound=WorkerResources)


def worker_resources(ctx: Context, kind: type[R]) -> R:
    """The worker's resources, which must be (a subclass of) `kind`."""
    resources = ctx.get(RESOURCES_KEY)
    if not isinstance(resources, kind):
        found = type(resources).__name__
        raise TypeError(f"this job needs {kind.__name__}; its worker has {found}")
    return resources


def job_context(resources: WorkerResources, **arq_keys: Any) -> Context:
    """A context as the worker makes it, for running a job by hand (tests, benches)."""
    return {RESOURCES_KEY: resources, "job_try": 1, **arq_keys}
