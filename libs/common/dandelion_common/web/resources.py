"""Clients of one HTTP process, built in the app's lifespan and closed on shutdown."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from dandelion_common.db.session import Database
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.search.backends import SearchBackend, make_backend
from dandelion_common.search.backends.postgres import PostgresSearchBackend
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage


@dataclass
class Resources:
    settings: Settings
    db: Database
    queue: JobQueue
    storage: S3Storage
    # None: the PostgreSQL search tables of `db` (what `open` picks without OpenSearch), so
    # resources assembled by hand, as in tests, need not name an engine.
    search_backend: SearchBackend | None = None

    @property
    def search(self) -> SearchBackend:
        return self.search_backend or PostgresSearchBackend(self.db)

    @classmethod
    async def open(cls, settings: Settings, *, service: str) -> Resources:
        db = Database.connect(settings.postgres, application_name=f"dandelion-{service}")
        queue = await JobQueue.connect(settings.redis)
        storage = await S3Storage.connect(settings.s3)
        search = make_backend(settings, db)
        return cls(settings=settings, db=db, queue=queue, storage=storage, search_backend=search)

    async def close(self) -> None:
        await self.search.close()
        await self.storage.close()
        await self.queue.close()
        await self.db.dispose()


def lifespan_for(settings: Settings, *, service: str):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources.open(settings, service=service)
        app.state.resources = resources
        # Everything alive now (modules, schemas, models) lives until exit: move it out of
        # the collector's view, so full collections stay short instead of stalling requests.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await resources.close()

    return lifespan


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]
