"""`dandelion`: the operators' command (run services, migrate, start the local stack).

This module holds the commands every deployment shares (`up`, `migrate`, `worker`,
`worker-health`, `ensure-bucket`, `config-reference`) and names no service. Each service
registers what it owns through two entry-point groups in pyproject.toml, the way pytest and
flask discover plugins:

- `dandelion.commands`: command name -> a click command or group in the service's own
  `cli.py` (`api = "dandelion_api.cli:api"`), added to `dandelion` under that name, so the
  commands Deployments and `dandelion up` run keep their names.
- `dandelion.workers`: queue name -> the service's worker module, which defines `QUEUE`,
  `FUNCTIONS` and optionally `CRON_JOBS` and `STARTUP_CHECKS`. The names alone are the
  choices of `worker` and `worker-health`; `dandelion worker QUEUE` imports only that module.

Service commands are added when this module is imported, so `main.commands` is the whole
CLI, and a registration that fails to load or clashes with another fails every command at
once, probes included, instead of hiding behind healthy workers until someone runs it. The
services' `cli.py` modules import only click and `dandelion_common.commands` (their shared
helpers), so this costs little; heavy imports stay inside each command. Entry points are
read from the installed distribution's metadata: after changing the groups, reinstall
(`make install` does when pyproject.toml changes).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click

from dandelion_common.logging import configure_logging
from dandelion_common.settings import DevstackSettings, get_settings

COMMANDS_GROUP = "dandelion.commands"
WORKERS_GROUP = "dandelion.workers"
# Queue name -> the entry point of its worker module (loaded only by `dandelion worker`).
WORKERS: dict[str, EntryPoint] = {ep.name: ep for ep in entry_points(group=WORKERS_GROUP)}


@click.group()
def main() -> None:
    """Dandelion: a DANDI-compatible archive for neurophysiology data."""


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder for all local data.")
@click.option("--host", help="Address every local server binds to.")
@click.option("--api-port", type=int)
@click.option("--search-port", type=int)
@click.option("--web-port", type=int)
@click.option("--postgres-port", type=int)
@click.option("--redis-port", type=int)
@click.option("--s3-port", type=int, help="SeaweedFS also uses the next 4 ports and each +10000.")
@click.option(
    "--verbose",
    is_flag=True,
    help="Print every service's full log, not a summary (with DANDELION_LOGGING__LEVEL=DEBUG, "
    "debug records too).",
)
def up(verbose: bool, **options: object) -> None:
    """Start the whole archive locally (PostgreSQL, Redis, S3, api, search, web, workers).

    The console shows requests, jobs, warnings and errors; each service's full log is in
    <data dir>/logs/<service>.log.
    """
    from dandelion_common.devstack.stack import run

    overrides = {k: v for k, v in options.items() if v is not None}
    config = DevstackSettings(**overrides)  # type: ignore[arg-type]
    sys.exit(run(config, verbose=verbose))


@main.command()
@click.option("--revision", default="head", show_default=True)
def migrate(revision: str) -> None:
    """Apply database migrations (idempotent)."""
    from dandelion_common.db.migrate import upgrade

    settings = get_settings()
    configure_logging(settings.logging, service="migrate")
    upgrade(settings.postgres.url, revision)


@main.command()
@click.argument("queue", type=click.Choice(sorted(WORKERS)))
def worker(queue: str) -> None:
    """Run the worker of one service queue."""
    from dandelion_common.jobs.worker import build_worker

    settings = get_settings()
    configure_logging(settings.logging, service=f"worker-{queue}")
    module = WORKERS[queue].load()
    cron_jobs = getattr(module, "CRON_JOBS", ())
    checks = getattr(module, "STARTUP_CHECKS", ())
    build_worker(
        module.QUEUE,
        module.FUNCTIONS,
        settings,
        resources=module.RESOURCES,
        cron_jobs=cron_jobs,
        startup_checks=checks,
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


def add_service_commands(group: click.Group, registered: Iterable[EntryPoint]) -> None:
    """Add each registered command to `group` under its entry-point name."""
    for ep in registered:
        if ep.name in group.commands:
            raise RuntimeError(f"{ep.value} registers `{ep.name}`, which is already taken")
        command = ep.load()
        if not isinstance(command, click.Command):
            raise TypeError(f"{ep.value} is not a click command")
        group.add_command(command, ep.name)


add_service_commands(main, entry_points(group=COMMANDS_GROUP))

if __name__ == "__main__":
    main()
