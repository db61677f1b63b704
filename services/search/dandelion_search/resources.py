"""The search worker's clients: the database (the outbox), the job queue and its engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from arq.connections import ArqRedis

from dandelion_common.jobs.resources import WorkerResources, base_clients
from dandelion_common.settings import Settings
from dandelion_search.backends import SearchBackend, make_backend


@dataclass
class SearchWorkerResources(WorkerResources):
    search: SearchBackend

    @classmethod
    async def open(cls, settings: Settings, redis: ArqRedis, *, name: str) -> Self:
        clients = base_clients(settings, redis, name=name)
        return cls(**clients, search=make_backend(settings, clients["db"]))

    async def close(self) -> None:
        await self.search.close()
        await super().close()
