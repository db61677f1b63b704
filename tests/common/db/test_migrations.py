"""The single alembic history matches the models (`alembic check`) and is repeatable."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from dandelion_common.db.migrate import alembic_config, upgrade
from dandelion_common.settings import Settings


def test_models_match_migrations(settings: Settings) -> None:
    """Fails when a model changed without a migration (alembic autogenerate finds a diff)."""
    command.check(alembic_config(settings.postgres.url))


def test_upgrade_is_idempotent(settings: Settings) -> None:
    upgrade(settings.postgres.url)
    upgrade(settings.postgres.url)


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
