"""The ingest service's operator command: `dandelion gc`.

Registered in pyproject.toml's `dandelion.commands` entry points; `dandelion_common.cli`
composes it into `dandelion`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from dandelion_common.commands import in_transaction
from dandelion_common.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from dandelion_ingest.gc import GcReport


@click.command()
@click.option("--dry-run", is_flag=True, help="Report what would be collected; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def gc(*, dry_run: bool, as_json: bool) -> None:
    """Abort abandoned uploads and delete blobs no asset uses (one batch of each)."""
    from datetime import UTC, datetime

    from dandelion_common.storage import S3Storage
    from dandelion_ingest.gc import collect

    settings = get_settings()

    async def work(session: AsyncSession) -> GcReport:
        storage = await S3Storage.connect(settings.s3)
        try:
            now = datetime.now(UTC)
            return await collect(session, storage, settings.gc, now=now, dry_run=dry_run)
        finally:
            await storage.close()

    report = in_transaction(work)
    click.echo(report.model_dump_json(indent=2) if as_json else report.render())
    if report.errors:
        sys.exit(1)
