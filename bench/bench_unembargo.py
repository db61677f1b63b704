"""Unembargo row: the unembargo job on a dandiset of BENCH_UNEMBARGO_ASSETS small assets
(10,000 by default, the issue's size), against the issue's target of 60 s.

The dandiset, its draft and its assets are seeded with SQL in a scratch database, and their
objects put straight into S3 under the embargoed prefix (not through the client: the row
measures the unembargo, not uploads). The job function then runs as the ingest worker runs
it, timed from its start until the dandiset is OPEN: every object copied to the public
prefix, the flags recorded, the sources deleted, the leftover sweep, and the last
transaction with the revalidation requests sent to Redis (a Redis database of the bench's
own, emptied at the end, so no worker of another bench takes them).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import Any

import asyncpg

from bench.scratch import asyncpg_dsn, job_context
from bench.table import Row
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest.embargo import unembargo
from dandelion_ingest.resources import ingest_resources

ASSETS = int(os.environ.get("BENCH_UNEMBARGO_ASSETS", "10000"))
TARGET_SECONDS = 60.0
OBJECT_BYTES = 1024
PUT_CONCURRENCY = 64
BUCKET = "dandelion-bench-unembargo"
REDIS_DB = 7  # the bench's own; the others use database 0

SEED_SQL = """
INSERT INTO users (username, status, is_admin) VALUES ('bench', 'APPROVED', true);
INSERT INTO dandisets (id, embargo_status) VALUES (1, 'UNEMBARGOING');
INSERT INTO dandiset_owners (dandiset_id, user_id) SELECT 1, id FROM users;
INSERT INTO versions (dandiset_id, version, name, metadata)
    VALUES (1, 'draft', 'embargoed', '{"schemaKey": "Dandiset"}');
CREATE TEMP TABLE seed AS
    SELECT i, gen_random_uuid() AS asset_id, gen_random_uuid() AS blob_id,
           format('sub-%s/sub-%s.nwb', i / 100, i) AS path
    FROM generate_series(1, $1) AS i;
INSERT INTO asset_blobs (id, etag, size, sha256, embargoed)
    SELECT blob_id, md5(i::text) || '-1', $2, md5(i::text) || md5(i::text), true FROM seed;
INSERT INTO assets (id, path, blob_id, metadata, status)
    SELECT asset_id, path, blob_id, jsonb_build_object('path', path, 'schemaKey', 'Asset'),
           'Valid'
    FROM seed;
INSERT INTO version_assets (version_id, asset_id, path) SELECT 1, asset_id, path FROM seed;
UPDATE versions SET asset_count = $1, size = $1 * $2, status = 'Valid'
"""


async def seed(url: str) -> list[uuid.UUID]:
    """The rows, in one transaction; returns the blob ids."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            # Both numbers are ints, so inlining them is safe.
            sql = SEED_SQL.replace("$1", str(ASSETS)).replace("$2", str(OBJECT_BYTES))
            for statement in filter(str.strip, sql.split(";\n")):
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
        return [row["id"] for row in await conn.fetch("SELECT id FROM asset_blobs")]
    finally:
        await conn.close()


async def put_objects(storage: S3Storage, blob_ids: list[uuid.UUID]) -> None:
    gate = asyncio.Semaphore(PUT_CONCURRENCY)
    data = os.urandom(OBJECT_BYTES)

    async def put(blob_id: uuid.UUID) -> None:
        async with gate:
            await storage.put(blob_key(blob_id, embargoed=True), data)

    await asyncio.gather(*(put(b) for b in blob_ids))


async def run(urls: ServerUrls) -> list[Row]:
    async with job_context(urls, prefix="bench_unembargo", bucket=BUCKET, redis_db=REDIS_DB) as (
        ctx,
        database,
    ):
        return await measure(ctx, database)


async def measure(ctx: dict[str, Any], database: str) -> list[Row]:
    started = time.monotonic()
    blob_ids = await seed(database)
    await put_objects(ingest_resources(ctx).storage, blob_ids)
    print(
        f"seeded {ASSETS:,} embargoed assets in {time.monotonic() - started:.0f}s", file=sys.stderr
    )
    try:
        started = time.perf_counter()
        result = await unembargo.coroutine(ctx, dandiset_id=1, user_id=1)
        seconds = time.perf_counter() - started
        await check(database, result)
    finally:
        await ingest_resources(ctx).storage.delete_many([blob_key(b) for b in blob_ids])
    return [
        Row(f"unembargo {ASSETS:,} assets", seconds, TARGET_SECONDS, "target", "s",
            higher_is_better=False),
        Row("unembargo objects/s", ASSETS / seconds, ASSETS / TARGET_SECONDS, "target",
            "objects/s"),
    ]  # fmt: skip


async def check(database: str, result: str) -> None:
    """The run did the whole job: refuse to report a time for less."""
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        status = await conn.fetchval("SELECT embargo_status FROM dandisets WHERE id = 1")
        left = await conn.fetchval("SELECT count(*) FROM asset_blobs WHERE embargoed")
    finally:
        await conn.close()
    if (result, status, left) != (f"open ({ASSETS} blobs moved)", "OPEN", 0):
        raise RuntimeError(f"unembargo incomplete: {result}, {status}, {left} blobs embargoed")
