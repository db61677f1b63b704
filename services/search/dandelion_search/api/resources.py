"""The search API process's clients: PostgreSQL (callers, visibility) and its search engine.

No Redis and no S3: the search API uses neither, so their outages must not take it out of
service. `/readyz` checks PostgreSQL and, when configured, OpenSearch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.session import Database
from dandelion_common.jobs.buffer import refuse_committed_jobs
from dandelion_common.settings import Settings
from dandelion_common.web.resources import Probe
from dandelion_search.backends import SearchBackend, make_backend


@dataclass
class SearchResources:
    settings: Settings
    db: Database
    search: SearchBackend

    @classmethod
    async def open(cls, settings: Settings) -> SearchResources:
        db = Database.connect(settings.postgres, application_name="dandelion-search-api")
        return cls(settings=settings, db=db, search=make_backend(settings, db))

    def readiness(self) -> Mapping[str, Probe]:
        return {"postgres": self.db.ping, **self.search.readiness()}

    async def send_committed_jobs(self, session: AsyncSession) -> None:
        refuse_committed_jobs(session, process="the search API")

    async def close(self) -> None:
        await self.search.close()
        await self.db.dispose()


async def search_resources(request: Request) -> SearchResources:
    resources: SearchResources = request.app.state.resources
    return resources


ResourcesDep = Annotated[SearchResources, Depends(search_resources)]
