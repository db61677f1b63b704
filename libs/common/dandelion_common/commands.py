"""What the services' operator commands share: serving an app, and running one unit of work.

Each service's `cli.py` imports these helpers (a service may import the shared library, never
the other way round); `dandelion_common.cli` composes the commands into `dandelion`.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dandelion_common.logging import configure_logging
from dandelion_common.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# Seconds uvicorn lets open requests finish after SIGTERM; the Deployments' grace periods
# are sized on it (deploy/k8s, checked by tests/deploy).
UVICORN_DRAIN_SECONDS = 30

T = TypeVar("T")


# What a worker process of `serve` builds, and the service it logs as (set by the parent:
# each worker is a freshly spawned interpreter, which inherits only the environment).
_FACTORY_ENV = "DANDELION_SERVE_FACTORY"
_SERVICE_ENV = "DANDELION_SERVE_SERVICE"


def serve(name: str, factory: str, *, host: str, port: int, workers: int = 1) -> None:
    """Serve the ASGI app that `factory` ("module:function") builds, as service `name`, in
    `workers` processes (uvicorn's supervisor shares the socket and restarts a dead one)."""
    import uvicorn

    configure_logging(get_settings().logging, service=name)
    target = factory
    if workers > 1:
        os.environ[_FACTORY_ENV], os.environ[_SERVICE_ENV] = factory, name
        target = f"{__name__}:worker_app"
    uvicorn.run(
        target,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=UVICORN_DRAIN_SECONDS,
    )


def worker_app() -> Any:
    """The app of one worker process of `serve`: its logging first, as the parent's."""
    configure_logging(get_settings().logging, service=os.environ[_SERVICE_ENV])
    module, _, function = os.environ[_FACTORY_ENV].partition(":")
    return getattr(importlib.import_module(module), function)()


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to completion; an archive error (e.g. a server unreachable) ends the command
    with its message instead of a traceback."""
    from dandelion_common.errors import ArchiveError

    try:
        return asyncio.run(work)
    except ArchiveError as exc:
        raise click.ClickException(exc.message) from exc


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session of its own database connection and commit once at the end."""
    from dandelion_common.db.session import Database

    async def transaction() -> T:
        db = Database.connect(get_settings().postgres, application_name="dandelion-cli")
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return run(transaction())
