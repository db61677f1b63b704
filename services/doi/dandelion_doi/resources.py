"""The doi worker's clients: the database, the job queue and, when minting, DataCite's API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from arq.connections import ArqRedis

from dandelion_common.jobs.resources import WorkerResources, base_clients
from dandelion_common.settings import Settings
from dandelion_doi.datacite import DataCiteClient


@dataclass
class DoiResources(WorkerResources):
    # None when minting is off (development, tests): nothing then talks to DataCite.
    datacite: DataCiteClient | None

    @classmethod
    async def open(cls, settings: Settings, redis: ArqRedis, *, name: str) -> Self:
        return cls(**base_clients(settings, redis, name=name), datacite=datacite_client(settings))

    async def close(self) -> None:
        if self.datacite is not None:
            await self.datacite.aclose()
        await super().close()


def datacite_client(settings: Settings) -> DataCiteClient | None:
    if not settings.doi.minting:
        return None
    doi = settings.doi
    return DataCiteClient(doi, publish=doi.publish, read_timeout=doi.timeout_seconds)
