"""`dandelion search reindex`, run as operators do: settings from the environment, its own
connections, so the corpus it rebuilds from is committed for real and deleted afterwards."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from opensearchpy import AsyncOpenSearch
from search.corpus import Corpus, build_corpus
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from dandelion_common.cli import main
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    Dandiset,
    SearchAssetDocument,
    SearchDandisetDocument,
    SearchIndexedDandiset,
    SearchOutbox,
    User,
)
from dandelion_common.db.session import Database
from dandelion_common.settings import Settings, get_settings
from dandelion_search.backends import SearchBackend
from dandelion_search.backends.opensearch import OpenSearchBackend
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.indexer import drain
from dandelion_search.schemas import Facet, Kind, SearchQuery, Visibility

Env = dict[str, str | None]


@pytest.fixture
def committing_db(engine: AsyncEngine) -> Database:
    """Sessions outside the test's rolled-back transaction, as the CLI's own."""
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False))


def _env(settings: Settings) -> Env:
    return {
        "DANDELION_ENVIRONMENT": settings.environment.value,
        "DANDELION_POSTGRES__URL": settings.postgres.url,
        "DANDELION_OPENSEARCH__URL": None,
    }


@pytest.fixture(params=["postgres", "opensearch"])
async def engine_and_env(
    request: pytest.FixtureRequest, settings: Settings, committing_db: Database
) -> AsyncIterator[tuple[SearchBackend, Env]]:
    """The backend the CLI will rebuild, and the environment that makes it pick that one."""
    get_settings.cache_clear()
    if request.param == "postgres":
        yield PostgresSearchBackend(committing_db), _env(settings)
        get_settings.cache_clear()
        return
    url = request.getfixturevalue("opensearch_url")
    prefix = f"dandelion-test-{uuid.uuid4().hex[:12]}"
    engine = OpenSearchBackend(AsyncOpenSearch(hosts=[url], timeout=30), prefix=prefix)
    env = {**_env(settings), "DANDELION_OPENSEARCH__URL": url}
    env["DANDELION_OPENSEARCH__INDEX_PREFIX"] = prefix
    await engine.ensure_schema()
    try:
        yield engine, env
    finally:
        await engine.drop()
        await engine.close()
        get_settings.cache_clear()


async def _delete_corpus(db: Database, corpus: Corpus) -> None:
    dandisets = [corpus.d1.id, corpus.d2.id, corpus.secret.id]
    assets = [a.id for a in corpus.assets.values()]
    async with db.session() as session:
        await session.execute(delete(Dandiset).where(Dandiset.id.in_(dandisets)))
        await session.execute(delete(Asset).where(Asset.id.in_(assets)))
        blobs = [a.blob_id for a in corpus.assets.values()]
        await session.execute(delete(AssetBlob).where(AssetBlob.id.in_(blobs)))
        users = [corpus.owner.id, corpus.stranger.id, corpus.admin.id]
        await session.execute(delete(User).where(User.id.in_(users)))
        for table in (SearchDandisetDocument, SearchAssetDocument, SearchIndexedDandiset):
            await session.execute(delete(table).where(table.dandiset_id.in_(dandisets)))
        entities = [str(i) for i in (*dandisets, *assets)]
        await session.execute(delete(SearchOutbox).where(SearchOutbox.entity_id.in_(entities)))
        await session.commit()


@pytest.fixture
async def indexed(
    committing_db: Database, engine_and_env: tuple[SearchBackend, Env]
) -> AsyncIterator[Corpus]:
    """The corpus, committed and drained into the backend under test."""
    async with committing_db.session() as session:
        corpus = await build_corpus(session)
        await session.commit()
    try:
        await drain(committing_db, engine_and_env[0])
        yield corpus
    finally:
        await _delete_corpus(committing_db, corpus)


async def _invoke(env: Env, *args: str) -> Result:
    # In a thread: the CLI runs its own event loop with asyncio.run.
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


async def _snapshot(backend: SearchBackend, corpus: Corpus, kind: Kind) -> dict[str, Any]:
    """What an admin finds among the corpus's dandisets: hits and facet counts."""
    ours = frozenset(f"{d.id:06}" for d in (corpus.d1, corpus.d2, corpus.secret))
    query = SearchQuery(kind=kind, facets={Facet.DANDISET: ours}, size=100)
    if isinstance(backend, OpenSearchBackend):
        await backend.client.indices.refresh(index=backend.alias(kind))
    result = await backend.search(query, Visibility.administrator())
    counts = {f: sorted((c.value, c.count) for c in v) for f, v in result.facets.items()}
    return {"hits": sorted(hit.id for hit in result.hits), "facets": counts}


async def test_reindex_rebuilds_every_index_and_results_are_intact(
    engine_and_env: tuple[SearchBackend, Env], indexed: Corpus
) -> None:
    backend, env = engine_and_env
    before = {kind: await _snapshot(backend, indexed, kind) for kind in Kind}
    # Damage the live index: only a rebuild from the database brings the asset back.
    lost = str(indexed.assets["a1"].id)
    await backend.bulk_delete(Kind.ASSETS, [lost])
    assert lost not in (await _snapshot(backend, indexed, Kind.ASSETS))["hits"]

    result = await _invoke(env, "search", "reindex")

    assert result.exit_code == 0, result.output
    assert "reindexing assets" in result.output
    assert re.search(r"reindexed \d+ assets", result.output)
    assert re.search(r"reindexed \d+ dandisets", result.output)
    assert {kind: await _snapshot(backend, indexed, kind) for kind in Kind} == before


async def test_reindex_of_one_kind_leaves_the_other(
    engine_and_env: tuple[SearchBackend, Env], indexed: Corpus
) -> None:
    backend, env = engine_and_env
    lost = str(indexed.assets["a1"].id)
    await backend.bulk_delete(Kind.ASSETS, [lost])

    result = await _invoke(env, "search", "reindex", "--kind", "dandisets")

    assert result.exit_code == 0, result.output
    assert "assets" not in result.output
    assert lost not in (await _snapshot(backend, indexed, Kind.ASSETS))["hits"]


async def test_an_unknown_kind_is_a_usage_error() -> None:
    result = await _invoke({}, "search", "reindex", "--kind", "genotypes")
    assert result.exit_code == 2
