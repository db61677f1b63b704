"""`dandelion`: the operators' command (run services, migrate, start the local stack)."""

from __future__ import annotations

import asyncio
import importlib
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from dandelion_common.jobs.contracts import Queue
from dandelion_common.logging import configure_logging
from dandelion_common.settings import DevstackSettings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# Entry points by name, so this package never imports a service at module level.
APPS = {"api": "dandelion_api.app:create_app", "search-api": "dandelion_search.app:create_app"}
WORKERS = {q.value: f"dandelion_{q.value}.worker" for q in Queue}
# Seconds uvicorn lets open requests finish after SIGTERM; the Deployments' grace periods
# are sized on it (deploy/k8s, checked by tests/deploy).
UVICORN_DRAIN_SECONDS = 30

T = TypeVar("T")


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

    settings = get_settings()
    configure_logging(settings.logging, service="migrate")
    upgrade(settings.postgres.url, revision)


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
        timeout_graceful_shutdown=UVICORN_DRAIN_SECONDS,
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
    cron_jobs = getattr(module, "CRON_JOBS", ())
    checks = getattr(module, "STARTUP_CHECKS", ())
    build_worker(
        module.QUEUE, module.FUNCTIONS, settings, cron_jobs=cron_jobs, startup_checks=checks
    ).run()


@main.command("worker-health")
@click.argument("queue", type=click.Choice(sorted(WORKERS)))
def worker_health(queue: str) -> None:
    """Exit 0 if a worker of QUEUE on this host has reported recently (a k8s probe).

    A Redis that cannot be reached also exits 0: restarting the worker would not bring Redis
    back, and every worker pod would restart at once (the worker itself fails its jobs and
    retries them meanwhile).
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from dandelion_common.jobs.queue import JobQueue

    async def check() -> bool:
        jobs = await JobQueue.connect(get_settings().redis)
        try:
            pattern = f"dandelion:health:{queue}:{socket.gethostname()}:*"
            # Large SCAN pages: a probe should cost a few round trips, not one per 10 keys.
            keys = jobs.redis.scan_iter(match=pattern, count=1000)
            return bool([key async for key in keys])
        finally:
            await jobs.close()

    try:
        alive = asyncio.run(check())
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        click.echo(f"redis unreachable ({exc!r}); not a reason to restart this worker", err=True)
        return
    if not alive:
        click.echo(f"no live {queue} worker on {socket.gethostname()}", err=True)
        sys.exit(1)
    click.echo("ok")


@main.command("ensure-bucket")
def ensure_bucket() -> None:
    """Create the configured S3 bucket if it does not exist (first deployment, dev clusters)."""
    from dandelion_common.devstack.bootstrap import ensure_bucket as create

    settings = get_settings()
    configure_logging(settings.logging, service="ensure-bucket")
    asyncio.run(create(settings))
    click.echo(f"bucket {settings.s3.bucket} is there")


@main.command("config-reference")
@click.option(
    "--write",
    "target",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Replace the generated section of this Markdown file instead of printing.",
)
def config_reference(target: Path | None) -> None:
    """Print the reference of every DANDELION_* setting, generated from the settings models."""
    from dandelion_common.config_reference import render, replace_section

    if target is None:
        click.echo(render(), nl=False)
        return
    target.write_text(replace_section(target.read_text(), render()))
    click.echo(f"updated {target}", err=True)


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session of its own database connection and commit once at the end."""
    from dandelion_common.db.session import Database
    from dandelion_common.errors import ArchiveError

    async def run() -> T:
        db = Database.connect(get_settings().postgres, application_name="dandelion-cli")
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except ArchiveError as exc:
        raise click.ClickException(exc.message) from exc


@main.command()
@click.option("--dry-run", is_flag=True, help="Report what would be collected; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def gc(*, dry_run: bool, as_json: bool) -> None:
    """Abort abandoned uploads and delete blobs no asset uses (one batch of each)."""
    from datetime import UTC, datetime

    from dandelion_common.storage import S3Storage
    from dandelion_ingest.gc import GcReport, collect

    settings = get_settings()

    async def work(session: AsyncSession) -> GcReport:
        storage = await S3Storage.connect(settings.s3)
        try:
            now = datetime.now(UTC)
            return await collect(session, storage, settings.gc, now=now, dry_run=dry_run)
        finally:
            await storage.close()

    report = _in_transaction(work)
    click.echo(report.model_dump_json(indent=2) if as_json else report.render())
    if report.errors:
        sys.exit(1)


@main.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.argument("username")
@click.option("--email")
@click.option("--first-name")
@click.option("--last-name")
@click.option("--approve", is_flag=True, help="Approve the user (they may then write).")
@click.option("--admin/--no-admin", default=None, help="Grant or revoke admin rights.")
def users_create(
    username: str,
    *,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    approve: bool,
    admin: bool | None,
) -> None:
    """Create USERNAME, or update it if it exists: only the options given change."""
    from dandelion_common.accounts import ensure_user

    user, created = _in_transaction(
        lambda session: ensure_user(
            session,
            username=username,
            email=email,
            first_name=first_name,
            last_name=last_name,
            approve=approve,
            admin=admin,
        )
    )
    action = "created" if created else "updated"
    click.echo(f"{action} user {user.username} (status {user.status}, admin {user.is_admin})")


@main.group()
def tokens() -> None:
    """Manage API keys."""


@tokens.command("create")
@click.argument("username")
def tokens_create(username: str) -> None:
    """Print a new API key for USERNAME; their old key stops working."""
    from dandelion_api.users.service import replace_api_key

    key = _in_transaction(lambda session: replace_api_key(session, username=username))
    click.echo(f"replaced the API key of {username}", err=True)
    click.echo(key)


@main.group()
def search() -> None:
    """Manage the search index."""


@search.command("reindex")
@click.option(
    "--kind",
    type=click.Choice(["assets", "dandisets", "all"]),
    default="all",
    show_default=True,
    help="Which index to rebuild.",
)
def search_reindex(kind: str) -> None:
    """Rebuild search indices from the database; searches keep working meanwhile."""
    from dandelion_common.db.session import Database
    from dandelion_common.errors import ArchiveError
    from dandelion_search.backends import make_backend
    from dandelion_search.indexer import count_documents, reindex
    from dandelion_search.schemas import Kind

    settings = get_settings()
    kinds = list(Kind) if kind == "all" else [Kind(kind)]

    async def rebuild() -> None:
        db = Database.connect(settings.postgres, application_name="dandelion-cli")
        backend = make_backend(settings, db)
        try:
            await backend.ensure_schema()  # a first reindex may come before any worker ran
            for each in kinds:
                total = await count_documents(db, each)
                # click draws the bar only on a terminal; elsewhere it prints the label once.
                with click.progressbar(length=total, label=f"reindexing {each.value}") as bar:
                    loaded = await reindex(
                        db, backend, each, progress=lambda n: bar.update(n - bar.pos)
                    )
                click.echo(f"reindexed {loaded} {each.value}")
        finally:
            await backend.close()
            await db.dispose()

    try:
        asyncio.run(rebuild())
    except ArchiveError as exc:  # e.g. the search engine is unreachable
        raise click.ClickException(exc.message) from exc


if __name__ == "__main__":
    main()
