"""The API process's clients: PostgreSQL, the job queue (Redis) and S3, nothing else.

Built in the app's lifespan, closed on shutdown; `/readyz` checks exactly these three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.session import Database
from dandelion_common.jobs.buffer import flush_committed_jobs
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage
from dandelion_common.web.resources import Probe


@dataclass
class ApiResources:
    settings: Settings
    db: Database
    queue: JobQueue
    storage: S3Storage

    @classmethod
    async def open(cls, settings: Settings) -> ApiResources:
        db = Database.connect(settings.postgres, application_name="dandelion-api")
        queue = await JobQueue.connect(settings.redis)
        storage = await S3Storage.connect(settings.s3)
        return cls(settings=settings, db=db, queue=queue, storage=storage)

    def readiness(self) -> Mapping[str, Probe]:
        return {"postgres": self.db.ping, "redis": self.queue.ping, "s3": self.storage.ping}

    async def send_committed_jobs(self, session: AsyncSession) -> None:
        await flush_committed_jobs(session, self.queue)

    async def close(self) -> None:
        await self.storage.close()
        await self.queue.close()
        await self.db.dispose()


async def api_resources(request: Request) -> ApiResources:
    resources: ApiResources = request.app.state.resources
    return resources


ResourcesDep = Annotated[ApiResources, Depends(api_resources)]
