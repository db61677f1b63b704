"""Zarr ingest rows: the ingest job on an archive of BENCH_ZARR_OBJECTS small chunks (100,000
by default), beside the physical floor of the approach, the raw S3 listing of the same
object versions; and the job's streamed checksum beside zarr_checksum's in-memory tree.

The archive (Uploaded), its dandiset, draft and zarr asset are seeded with SQL in a scratch
database, and the chunks put straight into the versioned zarr bucket (not through the client:
the rows measure the ingest, not uploads). The job function then runs as the ingest worker
runs it, from its start until the archive is Complete and the draft's asset points at the
snapshot: listing, entries written batch by batch, checksum read back from PostgreSQL, the
finishing transaction and its jobs sent to Redis (a database of the bench's own, emptied).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from zarr_checksum import compute_zarr_checksum
from zarr_checksum.generators import ZarrArchiveFile

from bench.scratch import asyncpg_dsn, job_context
from bench.table import Row, render
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.jobs.contracts import PublishRequest
from dandelion_common.schema import SCHEMA_VERSION, configure_dandischema
from dandelion_common.storage import S3Storage, zarr_key
from dandelion_ingest.publish import publish_draft
from dandelion_ingest.resources import ingest_resources
from dandelion_ingest.zarr import StreamingZarrChecksum, ingest_zarr

OBJECTS = int(os.environ.get("BENCH_ZARR_OBJECTS", "100000"))
PUBLISH_TARGET_S = 10.0
OBJECT_BYTES = 300
PUT_CONCURRENCY = 64
BUCKET = "dandelion-bench-zarr"  # its zarr bucket is "dandelion-bench-zarr-zarr"
REDIS_DB = 8  # the bench's own; the others use database 0 (and the unembargo bench, 7)
ZARR_PATH = "sub-1/sub-1_sample.ome.zarr"

SEED_SQL = """
INSERT INTO dandisets (id, embargo_status) VALUES (1, 'OPEN');
INSERT INTO versions (dandiset_id, version, name, metadata, status, asset_count)
    VALUES (1, 'draft', 'zarr', '{"schemaKey": "Dandiset"}', 'Valid', 1);
INSERT INTO zarr_archives (id, dandiset_id, name, status) VALUES ($zarr, 1, $path, 'Uploaded');
INSERT INTO assets (id, path, zarr_id, metadata)
    VALUES ($asset, $path, $zarr, jsonb_build_object('path', $path, 'schemaKey', 'Asset'));
INSERT INTO version_assets (version_id, asset_id, path) VALUES (1, $asset, $path);
INSERT INTO asset_paths (version_id, path, parent, asset_id, aggregate_files, aggregate_size)
    VALUES (1, 'sub-1', '', NULL, 1, 0), (1, $path, 'sub-1', $asset, 1, 0)
"""


def chunk_paths(count: int) -> list[str]:
    """A zarr v2 array's layout with "/" chunk keys: 100 chunks per innermost folder."""
    return [
        ".zgroup",
        "0/.zarray",
        *(f"0/{i // 10_000}/{i // 100 % 100}/{i % 100}" for i in range(count - 2)),
    ]


async def seed(url: str, zarr_id: uuid.UUID) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            # Generated UUIDs and a constant path: inlining them is safe.
            sql = (
                SEED_SQL.replace("$zarr", f"'{zarr_id}'")
                .replace("$asset", f"'{uuid.uuid4()}'")
                .replace("$path", f"'{ZARR_PATH}'")
            )
            for statement in filter(str.strip, sql.split(";\n")):
                await conn.execute(statement)
    finally:
        await conn.close()


async def put_objects(storage: S3Storage, zarr_id: uuid.UUID, paths: list[str]) -> bytes:
    gate = asyncio.Semaphore(PUT_CONCURRENCY)
    data = os.urandom(OBJECT_BYTES)

    async def put(path: str) -> None:
        async with gate:
            await storage.zarr.put(zarr_key(zarr_id, path), data)

    await asyncio.gather(*(put(p) for p in paths))
    return data


async def run(urls: ServerUrls) -> list[Row]:
    async with job_context(urls, prefix="bench_zarr", bucket=BUCKET, redis_db=REDIS_DB) as (
        ctx,
        database,
    ):
        return await measure(ctx, database)


async def listing_seconds(storage: S3Storage, zarr_id: uuid.UUID) -> float:
    """The floor: S3's own listing of the archive's current object versions, nothing else."""
    started = time.perf_counter()
    listed = 0
    async for page in storage.zarr.latest_versions(zarr_key(zarr_id)):
        listed += len(page)
    if listed != OBJECTS:
        raise RuntimeError(f"S3 listed {listed} objects, not {OBJECTS}")
    return time.perf_counter() - started


async def measure(ctx: dict[str, Any], database: str) -> list[Row]:
    zarr_id = uuid.uuid4()
    paths = chunk_paths(OBJECTS)
    started = time.monotonic()
    await seed(database, zarr_id)
    data = await put_objects(ingest_resources(ctx).storage, zarr_id, paths)
    seeding = time.monotonic() - started
    print(f"seeded a zarr of {OBJECTS:,} objects in {seeding:.0f}s", file=sys.stderr)
    floor = await listing_seconds(ingest_resources(ctx).storage, zarr_id)
    started = time.perf_counter()
    checksum = await ingest_zarr.coroutine(ctx, zarr_id=str(zarr_id))
    seconds = time.perf_counter() - started
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    ours, theirs = checksum_rates(paths, md5)
    if checksum != theirs.pop("checksum"):
        raise RuntimeError(f"ingest checksum {checksum} is not zarr_checksum's")
    await check(database, checksum)
    published, grown = await publish_seconds(ctx, database, zarr_id)
    return [
        Row(f"zarr ingest {OBJECTS:,} chunks", OBJECTS / seconds, OBJECTS / floor,
            "S3 version listing alone", "chunks/s"),
        Row(f"publish a dandiset holding the {OBJECTS:,}-chunk zarr (the job, to commit)",
            published, PUBLISH_TARGET_S, "issue 6's publish target", "s",
            higher_is_better=False),
        Row("  S3 objects after that publish / before (nothing copied)", grown, 2.0,
            "a snapshot by copy", "x", higher_is_better=False),
        Row("zarr checksum (streamed)", ours["rate"], theirs["rate"],
            "zarr_checksum tree", "entries/s"),
        Row("zarr checksum peak memory", ours["peak"], theirs["peak"],
            "zarr_checksum tree", "KiB", higher_is_better=False),
    ]  # fmt: skip


def checksum_rates(paths: list[str], md5: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checksum step alone, in memory, ours against zarr_checksum's: rate and peak."""
    ordered = sorted(paths, key=str.encode)

    def ours() -> str:
        with StreamingZarrChecksum() as tree:
            for path in ordered:
                tree.add(path, md5, OBJECT_BYTES)
            return tree.digest().checksum

    def theirs() -> str:
        files = (ZarrArchiveFile(Path(p), OBJECT_BYTES, md5) for p in ordered)
        return str(compute_zarr_checksum(files))

    return _timed(ours), _timed(theirs)


def _timed(compute: Callable[[], str]) -> dict[str, Any]:
    """Timed on its own, then run again under tracemalloc (which slows it) for the peak."""
    started = time.perf_counter()
    checksum = compute()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        compute()
        peak = tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()
    return {"checksum": checksum, "rate": OBJECTS / seconds, "peak": peak}


PUBLISH_SQL = f"""
INSERT INTO users (username, status) VALUES ('bench', 'APPROVED');
INSERT INTO dandiset_owners (dandiset_id, user_id) SELECT 1, id FROM users;
UPDATE assets SET status = 'Valid';
UPDATE versions SET status = 'Publishing', metadata = '{{"schemaKey": "Dandiset",
    "schemaVersion": "{SCHEMA_VERSION}", "description": "bench",
    "license": ["spdx:CC-BY-4.0"], "contributor": [{{"schemaKey": "Person",
    "name": "Bench, B", "roleName": ["dcite:ContactPerson"], "includeInCitation": true}}]}}'
"""


async def publish_seconds(
    ctx: dict[str, Any], database: str, zarr_id: uuid.UUID
) -> tuple[float, float]:
    """The publish job on the dandiset holding the ingested zarr (its asset and draft made
    Valid, as validation would), timed to its commit; and the growth of the zarr's objects."""
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        for statement in filter(str.strip, PUBLISH_SQL.split(";\n")):
            await conn.execute(statement)
        user_id = await conn.fetchval("SELECT id FROM users")
    finally:
        await conn.close()
    resources = ingest_resources(ctx)
    settings = resources.settings
    configure_dandischema(settings.instance)
    before = sum(await resources.storage.zarr.count_versions(zarr_key(zarr_id)))
    started = time.perf_counter()
    async with resources.db.session() as session:
        request = PublishRequest(dandiset_id=1, user_id=user_id)
        if await publish_draft(session, settings, request) is None:
            raise RuntimeError("the publish job published nothing")
        await session.commit()
    seconds = time.perf_counter() - started
    after = sum(await resources.storage.zarr.count_versions(zarr_key(zarr_id)))
    return seconds, after / before


async def check(database: str, checksum: str) -> None:
    """The run did the whole job: refuse to report a time for less."""
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        row = await conn.fetchrow("SELECT status, checksum, file_count FROM zarr_archives")
        pointed = await conn.fetchval(
            "SELECT count(*) FROM assets a"
            " JOIN zarr_archives z ON a.zarr_snapshot_id = z.snapshot_id"
        )
    finally:
        await conn.close()
    if row is None or (row["status"], row["checksum"], row["file_count"], pointed) != (
        "Complete", checksum, OBJECTS, 1,
    ):  # fmt: skip
        raise RuntimeError(f"zarr ingest incomplete: {dict(row or {})}, {pointed} assets")


def main() -> None:
    """This bench alone: `python -m bench.bench_zarr`."""
    with ephemeral_servers() as urls:
        rows = asyncio.run(run(urls))
    print(render(rows))


if __name__ == "__main__":
    main()
