"""Session-wide real servers, one migrated database, and a rolled-back transaction per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from doi.fake_datacite import fake_datacite, fake_datacite_server
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from dandelion_common.db.migrate import upgrade
from dandelion_common.db.session import Database, create_engine
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.schema import configure_dandischema
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage
from dandelion_common.web.resources import AppResources

if TYPE_CHECKING:
    from dandelion_api.resources import ApiResources
    from dandelion_search.api.resources import SearchResources

__all__ = ["fake_datacite", "fake_datacite_server"]  # the fake DataCite, for every directory


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerUrls]:
    with ephemeral_servers() as urls:
        yield urls


@pytest.fixture(scope="session")
def settings(servers: ServerUrls) -> Settings:
    settings = servers.settings()
    configure_dandischema(settings.instance)
    upgrade(settings.postgres.url)
    return settings


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.postgres, application_name="dandelion-tests")
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Code under test may commit: each commit only releases a savepoint of the outer transaction.
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def db(engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]) -> Database:
    return Database(engine, sessionmaker)


@pytest.fixture(scope="session")
async def storage(settings: Settings) -> AsyncIterator[S3Storage]:
    storage = await S3Storage.connect(settings.s3)
    await storage.ensure_bucket()
    yield storage
    await storage.close()


@pytest.fixture(scope="session")
async def job_queue(settings: Settings) -> AsyncIterator[JobQueue]:
    queue = await JobQueue.connect(settings.redis)
    yield queue
    await queue.close()


@pytest.fixture
def resources(
    settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage
) -> ApiResources:
    """The API's clients, on the test's rolled-back transaction."""
    from dandelion_api.resources import ApiResources

    return ApiResources(settings=settings, db=db, queue=job_queue, storage=storage)


@pytest.fixture
def search_resources(settings: Settings, db: Database) -> SearchResources:
    """The search API's clients, with its PostgreSQL engine, on the test's transaction."""
    from dandelion_search.api.resources import SearchResources
    from dandelion_search.backends.postgres import PostgresSearchBackend

    return SearchResources(settings=settings, db=db, search=PostgresSearchBackend(db))


def serve(app: FastAPI, resources: AppResources) -> AsyncClient:
    """An HTTP client for `app` wired to the test's resources (no lifespan needed)."""
    app.state.resources = resources
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def api_client(resources: ApiResources) -> AsyncIterator[AsyncClient]:
    from dandelion_api.app import create_app

    async with serve(create_app(resources.settings), resources) as client:
        yield client


def ingest_context(
    settings: Settings, db: Database, queue: JobQueue, storage: S3Storage
) -> dict[str, Any]:
    """An ingest job's context, as the ingest worker builds it, for running jobs by hand."""
    from dandelion_common.jobs.resources import job_context
    from dandelion_ingest.resources import IngestResources, reader_pools

    extraction, inspection = reader_pools(settings)
    return job_context(
        IngestResources(
            settings=settings,
            db=db,
            queue=queue,
            storage=storage,
            extraction_readers=extraction,
            inspection_readers=inspection,
        )
    )


def auth(key: str) -> dict[str, str]:
    """Request headers of a caller holding API key `key`."""
    return {"Authorization": f"token {key}"}


def bearer(token: str) -> dict[str, str]:
    """Request headers of the web service calling in the name of browser session `token`."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    """A real OpenSearch (`make opensearch`); absent locally → skip, absent in CI → fail."""
    url = os.environ.get("DANDELION_TEST_OPENSEARCH_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but DANDELION_TEST_OPENSEARCH_URL is not set (.ci/run starts one)")
        pytest.skip("no OpenSearch: run `eval $(make -s opensearch)` to enable these tests")
    return url


@pytest.fixture
def database(servers: ServerUrls) -> Iterator[str]:
    """A database of this test's own, migrated: service processes started by the test commit
    for real there."""
    name = f"e2e_{uuid.uuid4().hex[:8]}"
    admin_dsn = servers.postgres.replace("postgresql+asyncpg", "postgresql")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    url = servers.postgres.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    asyncio.run(run(f"DROP DATABASE {name} WITH (FORCE)"))
