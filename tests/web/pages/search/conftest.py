"""Data for the search page: the search tests' corpus, indexed into the PostgreSQL backend
the web's search API runs on (as the ingest worker's drain would)."""

from __future__ import annotations

import pytest
from search.corpus import Corpus, build_corpus
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.session import Database
from dandelion_search.api.resources import SearchResources
from dandelion_search.indexer import drain


@pytest.fixture
async def corpus(session: AsyncSession, db: Database, search_resources: SearchResources) -> Corpus:
    """Three dandisets (two open, one embargoed) with four NWB assets, committed and indexed."""
    built = await build_corpus(session)
    await session.commit()
    await drain(db, search_resources.search)
    return built
