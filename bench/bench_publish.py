"""Publish rows: a dandiset of BENCH_PUBLISH_ASSETS (default 100,000) Valid assets published
by the publish job, against the issue's 10 s target, and its manifests written to S3.

The dandiset is seeded with SQL in a scratch database (blobs, assets with dandischema
metadata, the draft's asset and folder rows), then `publish_draft` runs and commits in one
timed transaction, as the ingest worker's job does: the assetsSummary over every asset, the
version row, the copied asset and folder rows, the frozen assets, the outbox rows. The
manifests are a separate job after the commit, timed on their own.
"""

from __future__ import annotations

import os
import time

import asyncpg
from sqlalchemy import literal, update
from sqlalchemy.dialects.postgresql import JSONB

from bench.scratch import asyncpg_dsn, scratch_database
from bench.table import Row
from dandelion_common.db.models import Version
from dandelion_common.db.session import Database
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.jobs.contracts import PublishRequest
from dandelion_common.schema import SCHEMA_VERSION, configure_dandischema
from dandelion_common.settings import PostgresSettings
from dandelion_common.storage import S3Storage
from dandelion_ingest.manifests import write_manifests
from dandelion_ingest.publish import publish_draft
from dandelion_ingest.summary import aggregate

ASSETS = int(os.environ.get("BENCH_PUBLISH_ASSETS", "100000"))
TARGET_S = 10.0
_UUID4 = "overlay(overlay(md5({seed})::text placing '4' from 13) placing '8' from 17)::uuid"
METADATA = (
    "jsonb_build_object('path', path, 'schemaKey', 'Asset', 'schemaVersion', "
    f"'{SCHEMA_VERSION}', 'encodingFormat', 'application/x-nwb', 'wasAttributedTo', "
    "jsonb_build_array(jsonb_build_object('schemaKey', 'Participant', 'identifier', "
    "'sub-' || (i / 100), 'species', jsonb_build_object('schemaKey', 'SpeciesType', "
    "'name', 'Mus musculus', 'identifier', "
    "'http://purl.obolibrary.org/obo/NCBITaxon_10090'))), 'approach', jsonb_build_array("
    "jsonb_build_object('schemaKey', 'ApproachType', 'name', "
    "'electrophysiological approach')))"
)
SEED_SQL = f"""
INSERT INTO users (username, status) VALUES ('bench', 'APPROVED');
INSERT INTO dandisets (id) VALUES (1);
INSERT INTO dandiset_owners (dandiset_id, user_id) SELECT 1, id FROM users;
INSERT INTO versions (dandiset_id, version, name, metadata, status) VALUES (1, 'draft',
    'Publish bench', '{{"schemaKey": "Dandiset", "description": "bench",
    "license": ["spdx:CC-BY-4.0"], "contributor": [{{"schemaKey": "Person",
    "name": "Bench, B", "roleName": ["dcite:ContactPerson"], "includeInCitation": true}}]}}',
    'Publishing');
CREATE TEMP TABLE seed AS
    SELECT i, format('sub-%s/sub-%s_ses-%s_ecephys.nwb', i / 100, i / 100, i % 100) AS path,
           {_UUID4.format(seed="'a' || i")} AS asset_id,
           {_UUID4.format(seed="'b' || i")} AS blob_id, 1000 + i % 1000 AS size
    FROM generate_series(0, $1 - 1) AS i;
INSERT INTO asset_blobs (id, etag, size, sha256)
    SELECT blob_id, md5(i::text) || '-1', size, encode(sha256(i::text::bytea), 'hex') FROM seed;
INSERT INTO assets (id, path, blob_id, metadata, status)
    SELECT asset_id, path, blob_id, {METADATA}, 'Valid' FROM seed;
INSERT INTO version_assets (version_id, asset_id, path, created)
    SELECT 1, asset_id, path, now() + i * interval '1 microsecond' FROM seed;
INSERT INTO asset_paths (version_id, path, parent, asset_id, aggregate_files, aggregate_size)
    SELECT 1, path, regexp_replace(path, '/[^/]*$', ''), asset_id, 1, size FROM seed;
INSERT INTO asset_paths (version_id, path, parent, asset_id, aggregate_files, aggregate_size)
    SELECT 1, split_part(path, '/', 1), '', NULL, count(*), sum(size) FROM seed GROUP BY 2;
UPDATE versions SET asset_count = (SELECT count(*) FROM seed), size = (SELECT sum(size) FROM seed);
"""


async def seed(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            for statement in filter(str.strip, SEED_SQL.replace("$1", str(ASSETS)).split(";\n")):
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def summarize(db: Database) -> float:
    """The draft's assetsSummary stored at its revision, as the debounced summary job leaves
    it; returns the seconds the aggregation took (a publish repeats it only if stale)."""
    started = time.perf_counter()
    async with db.session() as session:
        summary, revision = await session.run_sync(aggregate, 1)
        await session.execute(
            update(Version)
            .where(Version.id == 1)
            .values(
                metadata_=Version.metadata_.op("||")(literal({"assetsSummary": summary}, JSONB)),
                summary_revision=revision,
            )
        )
        await session.commit()
    return time.perf_counter() - started


async def run(urls: ServerUrls) -> list[Row]:
    async with scratch_database(urls.postgres, prefix="bench_publish") as url:
        await seed(url)
        settings = urls.settings()
        settings = settings.model_copy(update={"postgres": PostgresSettings(url=url)})
        configure_dandischema(settings.instance)
        db = Database.connect(settings.postgres, application_name="bench-publish")
        storage = await S3Storage.connect(settings.s3)
        try:
            await storage.ensure_bucket()
            summarized = await summarize(db)  # what the summary job did after the uploads
            started = time.perf_counter()
            async with db.session() as session:
                request = PublishRequest(dandiset_id=1, user_id=1)
                version = await publish_draft(session, settings, request)
                assert version is not None
                await session.commit()
            published = time.perf_counter() - started
            started = time.perf_counter()
            async with db.session() as session:
                await write_manifests(session, settings, storage, version)
            manifests = time.perf_counter() - started
        finally:
            await storage.close()
            await db.dispose()
    label = f"publish a dandiset of {ASSETS:,} assets (the job, to commit)"
    return [
        Row(label, published, TARGET_S, "target", "s", higher_is_better=False),
        Row(
            "  its assetsSummary, aggregated by the summary job beforehand (a stale one is "
            "aggregated again inside the publish)",
            summarized,
            TARGET_S,
            "publish target",
            "s",
            higher_is_better=False,
        ),
        Row(
            f"its 5 manifests written to S3 after the commit ({ASSETS / manifests:,.0f} assets/s)",
            manifests,
            TARGET_S,
            "publish target",
            "s",
            higher_is_better=False,
        ),
    ]
