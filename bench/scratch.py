"""A migrated scratch database per bench, dropped afterwards: benches never see each other's
rows (they all seed dandiset 1) or outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from dandelion_common.db.migrate import upgrade
from dandelion_common.db.session import Database
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.resources import job_context as job_context_of
from dandelion_common.settings import PostgresSettings, RedisSettings, Settings
from dandelion_common.storage import S3Storage
from dandelion_ingest.resources import IngestResources, reader_pools


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL as asyncpg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def scratch_database(server_url: str, *, prefix: str) -> AsyncIterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def bench_settings(urls: ServerUrls, database: str, *, bucket: str, redis_db: int) -> Settings:
    """The servers' settings on a scratch database, a bucket and a Redis database of the
    bench's own (its queue is flushed afterwards without touching another's)."""
    redis = urls.redis.rsplit("/", 1)[0] + f"/{redis_db}"
    return urls.settings(bucket=bucket).model_copy(
        update={
            "postgres": PostgresSettings(url=database, pool_size=2),
            "redis": RedisSettings(url=redis),
        }
    )


@asynccontextmanager
async def job_context(
    urls: ServerUrls, *, prefix: str, bucket: str, redis_db: int
) -> AsyncIterator[tuple[dict[str, Any], str]]:
    """An ingest worker's job context (its IngestResources) on a scratch database, and the
    database's URL; the bench's Redis database is flushed at the end."""
    async with scratch_database(urls.postgres, prefix=prefix) as database:
        settings = bench_settings(urls, database, bucket=bucket, redis_db=redis_db)
        storage = await S3Storage.connect(settings.s3)
        db = Database.connect(settings.postgres, application_name=prefix.replace("_", "-"))
        queue = await JobQueue.connect(settings.redis)
        try:
            await storage.ensure_bucket()
            extraction, inspection = reader_pools(settings)
            resources = IngestResources(
                settings=settings,
                db=db,
                queue=queue,
                storage=storage,
                extraction_readers=extraction,
                inspection_readers=inspection,
            )
            yield job_context_of(resources), database
        finally:
            await queue.redis.flushdb()
            await queue.close()
            await db.dispose()
            await storage.close()
