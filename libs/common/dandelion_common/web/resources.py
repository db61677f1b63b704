"""What an HTTP process's shared pieces (sessions, health, the commit point) need of its clients.

Each app owns a resources class of its own (`dandelion_api.resources.ApiResources`,
`dandelion_search.api.resources.SearchResources`), built in its lifespan with exactly the
clients it uses and closed on shutdown; `/readyz` checks exactly those. The shared web pieces
see them through the `AppResources` protocol only, so this library names no service.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.session import Database
from dandelion_common.settings import Settings

# A readiness check: returns when its backing service answers, raises otherwise.
Probe = Callable[[], Awaitable[None]]


class Ready(Protocol):
    def readiness(self) -> Mapping[str, Probe]:
        """The backing services this process cannot serve without, by name."""


class Owned(Ready, Protocol):
    """Resources an app's lifespan builds and closes."""

    async def close(self) -> None: ...


class AppResources(Owned, Protocol):
    settings: Settings
    db: Database

    async def send_committed_jobs(self, session: AsyncSession) -> None:
        """Send the jobs `session`'s committed transaction asked for (the commit point's last
        step)."""

    async def close(self) -> None: ...


def lifespan_for(open_resources: Callable[[], Awaitable[Owned]]):  # type: ignore[no-untyped-def]
    """A lifespan that builds the app's resources at startup and closes them on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await open_resources()
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


async def ready_resources(request: Request) -> Ready:
    """What `/readyz` checks: any app's resources, the web's too (it has no database)."""
    resources: Ready = request.app.state.resources
    return resources


def app_resources(request: Request) -> AppResources:
    resources: AppResources = request.app.state.resources
    return resources
