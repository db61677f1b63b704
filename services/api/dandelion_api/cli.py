"""The api service's operator commands: `dandelion api`, `dandelion users`, `dandelion tokens`.

Registered in pyproject.toml's `dandelion.commands` entry points; `dandelion_common.cli`
composes them into `dandelion`.
"""

from __future__ import annotations

import click

from dandelion_common.commands import in_transaction, serve
from dandelion_common.settings import get_settings


@click.command()
def api() -> None:
    """Serve the DANDI-compatible REST API."""
    settings = get_settings()
    api = settings.api
    serve(
        "api", "dandelion_api.app:create_app", host=api.host, port=api.port, workers=api.processes
    )


@click.group()
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

    user, created = in_transaction(
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


@click.group()
def tokens() -> None:
    """Manage API keys."""


@tokens.command("create")
@click.argument("username")
def tokens_create(username: str) -> None:
    """Print a new API key for USERNAME; their old key stops working."""
    from dandelion_api.users.service import replace_api_key

    key = in_transaction(lambda session: replace_api_key(session, username=username))
    click.echo(f"replaced the API key of {username}", err=True)
    click.echo(key)
