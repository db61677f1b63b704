"""`dandelion`: the operators' command (run services, migrate, start the local stack)."""

from __future__ import annotations

import asyncio
import importlib
import socket
import sys
from pathlib import Path

import click

from dandelion_common.jobs.contracts import Queue
from dandelion_common.logging import configure_logging
from dandelion_common.settings import DevstackSettings, get_settings

# Entry points by name, so this package never imports a service at module level.
APPS = {"api": "dandelion_api.app:create_app", "search-api": "dandelion_search.app:create_app"}
WORKERS = {q.value: f"dandelion_{q.value}.worker" for q in Queue}


@click.group()
def main() -> None:
    """Dandelion: a DANDI-compatible archive for neurophysiology data."""


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder for all local data.")
@click.option("--host", help="Address every local server binds to.")
@click.option("--api-port", type=int)
@click.option("--search-port", type=int)
@click.option("--postgres-port", type=int)
@click.option("--redis-port", type=int)
@click.option("--s3-port", type=int, help="SeaweedFS also uses the next 4 ports and each +10000.")
def up(**options: object) -> None:
    """Start the whole archive locally (PostgreSQL, Redis, S3, api, search, workers)."""
    from dandelion_common.devstack.stack import run

    overrides = {k: v for k, v in options.items() if v is not None}
    config = DevstackSettings(**overrides)  # type: ignore[arg-type]
    sys.exit(run(config))


@main.command()
@click.option("--revision", default="head", show_default=True)
def migrate(revision: str) -> None:
    """Apply database migrations (idempotent)."""
    from dandelion_common.db.migrate import upgrade

    upgrade(get_settings().postgres.url, revision)


def _serve(name: str, host: str, port: int) -> None:
    import uvicorn

    settings = get_settings()
    configure_logging(settings.logging, service=name)
    uvicorn.run(
        APPS[name],
        factory=True,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )


@main.command()
def api() -> None:
    """Serve the DANDI-compatible REST API."""
    settings = get_settings()
    _serve("api", settings.api.host, settings.api.port)


@main.command("search-api")
def search_api() -> None:
    """Serve the search API."""
    settings = get_settings()
    _serve("search-api", settings.search_api.host, settings.search_api.port)


@main.command()
@click.argument("queue", type=click.Choice(sorted(WORKERS)))
def worker(queue: str) -> None:
    """Run the worker of one service queue."""
    from dandelion_common.jobs.worker import build_worker

    settings = get_settings()
    configure_logging(settings.logging, service=f"worker-{queue}")
    module = importlib.import_module(WORKERS[queue])
    build_worker(module.QUEUE, module.FUNCTIONS, settings).run()


@main.command("worker-health")
@click.argument("queue", type=click.Choice(sorted(WORKERS)))
def worker_health(queue: str) -> None:
    """Exit 0 if a worker of QUEUE on this host has reported recently (a k8s probe)."""
    from dandelion_common.jobs.queue import JobQueue

    async def check() -> bool:
        jobs = await JobQueue.connect(get_settings().redis)
        try:
            pattern = f"dandelion:health:{queue}:{socket.gethostname()}:*"
            return bool([key async for key in jobs.redis.scan_iter(match=pattern)])
        finally:
            await jobs.close()

    if not asyncio.run(check()):
        click.echo(f"no live {queue} worker on {socket.gethostname()}", err=True)
        sys.exit(1)
    click.echo("ok")


if __name__ == "__main__":
    main()
