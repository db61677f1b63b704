"""`versions.search_text` (migration 0013): versions written before it are backfilled, and
rows written by plain SQL, as by any writer, carry theirs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from dandelion_common.db.migrate import upgrade
from dandelion_common.devstack.ephemeral import ServerUrls

DRAFT = """
INSERT INTO dandisets (id) VALUES (1);
INSERT INTO versions (dandiset_id, version, name, metadata)
    VALUES (1, 'draft', 'Zebrafinch Dandiset', '{"description": "Buzsáki lab"}');
"""


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg", "postgresql")


def _run(url: str, sql: str, *fetch: str) -> list[Any]:
    async def run() -> list[Any]:
        conn = await asyncpg.connect(_dsn(url))
        try:
            await conn.execute(sql)
            return [await conn.fetchval(query) for query in fetch]
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture
def blank(servers: ServerUrls) -> Iterator[str]:
    """An empty database of this test's own (the session's is migrated to the head)."""
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    _run(servers.postgres, f"CREATE DATABASE {name}")
    yield servers.postgres.rsplit("/", 1)[0] + f"/{name}"
    _run(servers.postgres, f"DROP DATABASE {name} WITH (FORCE)")


def test_versions_written_before_are_backfilled(blank: str) -> None:
    upgrade(blank, "0012")
    _run(blank, DRAFT)
    upgrade(blank)
    text, index = _run(
        blank,
        "SELECT 1",
        "SELECT search_text FROM versions",
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_versions_search_text'",
    )
    assert (
        text == '{"name": "zebrafinch dandiset", "version": "draft", "description": "buzsaki lab"}'
    )
    assert "gin (search_text gin_trgm_ops)" in index


def test_a_plain_sql_write_keeps_it_current(blank: str) -> None:
    upgrade(blank)
    _run(blank, DRAFT)
    (text,) = _run(
        blank,
        "UPDATE versions SET name = 'Canary', metadata = metadata || '{\"keywords\": [\"É\"]}'",
        "SELECT search_text FROM versions",
    )
    assert "canary" in text
    assert '"keywords": ["e"]' in text
    assert "zebrafinch" not in text
