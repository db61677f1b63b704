"""The search service's operator commands: `dandelion search-api`, `dandelion search reindex`.

Registered in pyproject.toml's `dandelion.commands` entry points; `dandelion_common.cli`
composes them into `dandelion`.
"""

from __future__ import annotations

import click

from dandelion_common.commands import run, serve
from dandelion_common.settings import get_settings


@click.command("search-api")
def search_api() -> None:
    """Serve the search API."""
    settings = get_settings()
    where = settings.search_api
    serve("search-api", "dandelion_search.app:create_app", host=where.host, port=where.port)


@click.group()
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

    run(rebuild())  # an unreachable search engine ends the command with its message
