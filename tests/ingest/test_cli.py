"""`dandelion gc` with settings from the environment, against the test PostgreSQL and S3.

The CLI commits for real, outside the test's rolled-back transaction, so the garbage it is
shown is committed here and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from factories import dandi_etag
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dandelion_common.cli import main
from dandelion_common.db.models import AssetBlob
from dandelion_common.settings import Settings, get_settings
from dandelion_common.storage import S3Storage


@pytest.fixture
def cli_env(settings: Settings, storage: S3Storage) -> Iterator[dict[str, str]]:
    """The CLI reads its settings from the environment, and `get_settings` caches them.
    (`storage` makes the bucket: run alone, these tests are the first to need it.)"""
    get_settings.cache_clear()
    yield {
        "DANDELION_ENVIRONMENT": settings.environment.value,
        "DANDELION_POSTGRES__URL": settings.postgres.url,
        "DANDELION_S3__ENDPOINT_URL": settings.s3.endpoint_url,
        "DANDELION_S3__BUCKET": settings.s3.bucket,
        "DANDELION_S3__ACCESS_KEY_ID": settings.s3.access_key_id,
        "DANDELION_S3__SECRET_ACCESS_KEY": settings.s3.secret_access_key.get_secret_value(),
    }
    get_settings.cache_clear()


@pytest.fixture
async def orphan(engine: AsyncEngine) -> AsyncIterator[uuid.UUID]:
    """A committed blob no asset uses, unchanged for 31 days (no S3 object: none is needed)."""
    content = os.urandom(32)
    blob_id = uuid.uuid4()
    old = datetime.now(UTC) - timedelta(days=31)
    row = {
        "id": blob_id,
        "etag": dandi_etag(content),
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "created": old,
        "modified": old,
    }
    async with engine.begin() as conn:
        await conn.execute(insert(AssetBlob).values(**row))
    yield blob_id
    async with engine.begin() as conn:
        await conn.execute(delete(AssetBlob).where(AssetBlob.id == blob_id))


async def _invoke(env: dict[str, str], *args: str) -> Result:
    # In a thread: the CLI runs its own event loop with asyncio.run.
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


async def _exists(engine: AsyncEngine, blob_id: uuid.UUID) -> bool:
    async with engine.connect() as conn:
        found = await conn.scalar(select(AssetBlob.id).where(AssetBlob.id == blob_id))
    return found is not None


async def test_gc_dry_run_prints_the_report_and_changes_nothing(
    cli_env: dict[str, str], engine: AsyncEngine, orphan: uuid.UUID
) -> None:
    result = await _invoke(cli_env, "gc", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    assert str(orphan) in report["orphan_blobs"]["listed"]
    assert report["errors"] == []
    assert await _exists(engine, orphan)

    text = await _invoke(cli_env, "gc", "--dry-run")

    assert text.exit_code == 0, text.output
    assert "dry run, nothing changed" in text.stdout
    assert f"  {orphan}" in text.stdout.splitlines()
    assert await _exists(engine, orphan)


async def test_gc_deletes_what_the_dry_run_showed(
    cli_env: dict[str, str], engine: AsyncEngine, orphan: uuid.UUID
) -> None:
    result = await _invoke(cli_env, "gc", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is False
    assert str(orphan) in report["orphan_blobs"]["listed"]
    assert not await _exists(engine, orphan)
