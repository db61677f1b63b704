"""The search backends under test, and the corpus drained into them.

`backend` is parametrised over both engines, so every test that takes it runs on PostgreSQL
and on OpenSearch (skipped locally without DANDELION_TEST_OPENSEARCH_URL, required in CI).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from opensearchpy import AsyncOpenSearch
from search.corpus import Corpus, build_corpus
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.session import Database
from dandelion_search.backends import SearchBackend
from dandelion_search.backends.opensearch import OpenSearchBackend
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.indexer import drain


@pytest.fixture(params=["postgres", "opensearch"])
async def backend(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[SearchBackend]:
    if request.param == "postgres":
        yield PostgresSearchBackend(db)
        return
    url = request.getfixturevalue("opensearch_url")
    # A prefix per test: parallel runs and other tests never see these indices.
    prefix = f"dandelion-test-{uuid.uuid4().hex[:12]}"
    engine = OpenSearchBackend(
        AsyncOpenSearch(hosts=[url], timeout=30), prefix=prefix, refresh=True
    )
    await engine.ensure_schema()
    try:
        yield engine
    finally:
        await engine.drop()
        await engine.close()


@pytest.fixture
async def corpus(session: AsyncSession, db: Database, backend: SearchBackend) -> Corpus:
    """The corpus, committed and drained into `backend`."""
    built = await build_corpus(session)
    await session.commit()
    await drain(db, backend)
    return built
