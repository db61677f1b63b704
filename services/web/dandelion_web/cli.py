"""The web service's operator command: `dandelion web`.

Registered in pyproject.toml's `dandelion.commands` entry points; `dandelion_common.cli`
composes it into `dandelion`.
"""

from __future__ import annotations

import click

from dandelion_common.commands import serve
from dandelion_common.settings import get_settings


@click.command()
def web() -> None:
    """Serve the web pages (landing pages, file browser, search)."""
    settings = get_settings()
    serve("web", "dandelion_web.app:create_app", host=settings.web.host, port=settings.web.port)
