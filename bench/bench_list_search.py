"""`?search=` rows: the dandiset list searched by BENCH_LIST_SEARCH_CLIENTS (20) concurrent
clients for BENCH_LIST_SEARCH_SECONDS (10 s) against the API process, at 1,000 dandisets,
then at BENCH_LIST_SEARCH_LARGE (100,000).

The scratch database is seeded in SQL (INSERT ... SELECT over generate_series, the trigram
index dropped during the load and built once after it, as a bulk load would): each dandiset
has a draft of about 3 KB of metadata (DANDI's draft documents: description, contributors
with affiliations, keywords, anatomy, an assetsSummary) and one in four a published version
as well. Every dandiset's name holds a word of its own; a query names the word of one of the
first 1,000 dandisets, alone, with a word every document holds, or as a quoted phrase, so
each query matches the same dandiset at either size and only the archive grows.

Rows:
- throughput at 1,000 dandisets against the issue's target, five times DANDI's 18.8 req/s
  (measured there on this machine class with 20 clients);
- the same against the query the list ran before `versions.search_text`, folding and
  scanning every version's metadata on each of its two statements (count, page), run alone
  by as many clients over asyncpg: an upper bound of the old request rate (no HTTP, no
  Python), in this run;
- throughput at 100,000 dandisets against half the rate at 1,000 (the target: at most 2x
  slower while the archive grows a hundredfold).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from bench.bench_foundation import process, service_env
from bench.scratch import asyncpg_dsn, scratch_database
from bench.table import Row, render
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.devstack.process import free_port

CLIENTS = int(os.environ.get("BENCH_LIST_SEARCH_CLIENTS", "20"))
SECONDS = float(os.environ.get("BENCH_LIST_SEARCH_SECONDS", "10"))
SMALL = 1_000
LARGE = int(os.environ.get("BENCH_LIST_SEARCH_LARGE", "100000"))
WARM_UP_SECONDS = 2.0
DANDI_RATE = 18.8  # req/s, DANDI's `?search=` with 20 clients (issue 16)
TARGET_FACTOR = 5.0
INDEX = "ix_versions_search_text"

# A word of the dandiset's own: ten letters, none of them a hex digit's other half.
_WORD = "translate(substr(md5(i || 'word'), 1, 10), '0123456789', 'ghijklmnop')"
_PERSON = """jsonb_build_object(
    'schemaKey', 'Person', 'name', 'Researcher ' || substr(md5(i || 'p' || k), 1, 8) || ', Ana',
    'email', substr(md5(i || 'e' || k), 1, 8) || '@example.org',
    'identifier', '0000-0002-' || substr(md5(i || 'o' || k), 1, 4) || '-1234',
    'roleName', jsonb_build_array('dcite:Author', 'dcite:DataCurator'),
    'includeInCitation', true,
    'affiliation', jsonb_build_array(jsonb_build_object('schemaKey', 'Affiliation',
        'name', 'Institute of Neuroscience ' || (k * i) % 97, 'identifier', 'https://ror.org/0')))"""
_DOCUMENT = f"""jsonb_build_object(
    'schemaKey', 'Dandiset', 'schemaVersion', '0.6.9',
    'description', 'Extracellular recordings from the hippocampus of head-fixed mice running'
        || ' on a linear track; spikes sorted with Kilosort and curated by hand. Session '
        || md5(i || 'd') || '. ' || repeat('Units were classified as putative pyramidal'
        || ' cells or interneurons from their waveform and firing rate. ', 6),
    'contributor', (SELECT jsonb_agg({_PERSON}) FROM generate_series(1, 5) AS k),
    'keywords', jsonb_build_array('hippocampus', 'place cells', 'electrophysiology',
        substr(md5(i || 'k'), 1, 12)),
    'about', jsonb_build_array(jsonb_build_object('schemaKey', 'Anatomy',
        'name', 'CA' || (i % 3 + 1) || ' field of hippocampus')),
    'license', jsonb_build_array('spdx:CC-BY-4.0'),
    'ethicsApproval', jsonb_build_array(jsonb_build_object('schemaKey', 'EthicsApproval',
        'identifier', 'IACUC ' || i, 'contactPoint', jsonb_build_object('schemaKey',
        'ContactPoint', 'email', 'iacuc@example.org'))),
    'assetsSummary', jsonb_build_object('schemaKey', 'AssetsSummary',
        'numberOfBytes', i * 1000, 'numberOfFiles', i % 50, 'numberOfSubjects', i % 7,
        'species', jsonb_build_array(jsonb_build_object('schemaKey', 'SpeciesType',
            'name', 'Mus musculus - House mouse')),
        'approach', jsonb_build_array(jsonb_build_object('schemaKey', 'ApproachType',
            'name', 'electrophysiological approach')),
        'measurementTechnique', jsonb_build_array(jsonb_build_object('schemaKey',
            'MeasurementTechniqueType', 'name', 'spike sorting technique')),
        'dataStandard', jsonb_build_array(jsonb_build_object('schemaKey', 'StandardsType',
            'name', 'Neurodata Without Borders (NWB)'))))"""
SEED_SQL = f"""
INSERT INTO dandisets (id, created)
    SELECT i, now() - i * interval '1 minute' FROM generate_series({{low}}, {{high}}) AS i;
INSERT INTO versions (dandiset_id, version, name, metadata, status)
    SELECT i, 'draft', 'Dandiset ' || {_WORD} || ': place cells of CA1', {_DOCUMENT}, 'Valid'
    FROM generate_series({{low}}, {{high}}) AS i;
INSERT INTO versions (dandiset_id, version, name, metadata, status)
    SELECT dandiset_id, '0.240102.0304', name,
           metadata || jsonb_build_object('name', name, 'version', '0.240102.0304',
               'identifier', 'DANDI:' || lpad(dandiset_id::text, 6, '0')),
           'Valid'
    FROM versions WHERE dandiset_id BETWEEN {{low}} AND {{high}} AND dandiset_id % 4 = 0
"""

# The list's statements before `versions.search_text`, as it sent them: the search folded
# every version's metadata (NFKD, marks dropped) and matched ILIKE, for the count and the
# page.
_OLD_MATCH = (
    """EXISTS (SELECT 1 FROM versions WHERE versions.dandiset_id = dandisets.id AND {terms})"""
)
_OLD_TERM = (
    "regexp_replace(normalize(CAST(versions.metadata AS VARCHAR), NFKD), "
    "'[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g') "
    "ILIKE ${n} ESCAPE '\\'"
)
_OLD_FROM = (
    "FROM dandisets JOIN versions AS current ON current.id = "
    "(SELECT max(versions.id) FROM versions WHERE versions.dandiset_id = dandisets.id) "
    "WHERE dandisets.embargo_status = 'OPEN' AND {match}"
)


def log(message: str) -> None:
    print(f"bench_list_search: {message}", file=sys.stderr, flush=True)


async def seed(conn: Any, low: int, high: int) -> None:
    """Dandisets `low`..`high` with their versions, the trigram index rebuilt once after."""
    definition = await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = $1", INDEX)
    await conn.execute(f"DROP INDEX {INDEX}")
    for statement in SEED_SQL.format(low=low, high=high).split(";\n"):  # ints, trusted
        await conn.execute(statement)
    await conn.execute("SET maintenance_work_mem = '256MB'")
    await conn.execute(definition)
    await conn.execute("VACUUM ANALYZE")


async def words(conn: Any) -> list[str]:
    """The words of the first SMALL dandisets, the ones every query names."""
    query = f"SELECT {_WORD} FROM generate_series(1, {SMALL}) AS i"
    return [row[0] for row in await conn.fetch(query)]


def query(rng: random.Random, vocabulary: list[str]) -> list[str]:
    """The terms of one search: a dandiset's word, alone, beside a common word, or quoted."""
    word = rng.choice(vocabulary)
    return rng.choice([[word], [word, "hippocampus"], [f'"{word}: place"']])


@dataclass
class Rate:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # ms

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


async def closed_loops(send: Callable[[random.Random], Awaitable[None]], seconds: float) -> Rate:
    """CLIENTS loops, each sending its next request when its last one is answered."""
    rate = Rate()

    async def loop(number: int) -> None:
        rng = random.Random(number)  # a workload, not a secret
        while time.monotonic() < until:
            started = time.perf_counter()
            await send(rng)
            rate.latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(loop(n) for n in range(CLIENTS)))
    rate.seconds = time.monotonic() - started
    return rate


async def api_rate(base: str, vocabulary: list[str]) -> Rate:
    """`GET /api/dandisets/?search=` by anonymous clients; each answer must hold its match."""
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def send(rng: random.Random) -> None:
            params = {"search": " ".join(query(rng, vocabulary))}
            async with http.get("/api/dandisets/", params=params) as answer:
                assert answer.status == 200, await answer.text()
                assert (await answer.json())["count"] == 1, params

        await closed_loops(send, WARM_UP_SECONDS)
        return await closed_loops(send, SECONDS)


def _old_statements(terms: list[str]) -> tuple[str, str]:
    match = _OLD_MATCH.format(
        terms=" AND ".join(_OLD_TERM.format(n=n + 1) for n in range(len(terms)))
    )
    where = _OLD_FROM.format(match=match)
    count = f"SELECT count(*) FROM (SELECT dandisets.id {where}) AS matched"
    page = f"SELECT dandisets.* {where} ORDER BY dandisets.created, dandisets.id LIMIT 100"
    return count, page


async def old_sql_rate(url: str, vocabulary: list[str]) -> Rate:
    """The old full-scan statements alone, CLIENTS connections at a time."""
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=CLIENTS, max_size=CLIENTS)
    try:

        async def send(rng: random.Random) -> None:
            terms = [t.strip('"') for t in query(rng, vocabulary)]
            patterns = [f"%{t}%" for t in terms]  # no LIKE wildcard in any of them
            count, page = _old_statements(terms)
            async with pool.acquire() as conn:
                # Drafts' names are not in their documents (the bug): few are found, all read.
                await conn.fetchval(count, *patterns)
                await conn.fetch(page, *patterns)

        return await closed_loops(send, SECONDS)
    finally:
        await pool.close()


async def measure(urls: ServerUrls) -> tuple[Rate, Rate, Rate]:
    """At SMALL dandisets the API and the old statements, then the API at LARGE."""
    async with scratch_database(urls.postgres, prefix="bench_list_search") as url:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            started = time.monotonic()
            await seed(conn, 1, SMALL)
            vocabulary = await words(conn)
            log(f"seeded {SMALL:,} dandisets in {time.monotonic() - started:.0f}s")
            port = free_port()
            env = service_env(urls) | {
                "DANDELION_POSTGRES__URL": url,
                "DANDELION_API__PORT": str(port),
            }
            argv = [sys.executable, "-m", "dandelion_common.cli", "api"]
            base = f"http://127.0.0.1:{port}"
            with process(argv, env, f"{base}/healthz"):
                small = await api_rate(base, vocabulary)
                old = await old_sql_rate(url, vocabulary)
                started = time.monotonic()
                await seed(conn, SMALL + 1, LARGE)
                log(f"grown to {LARGE:,} dandisets in {time.monotonic() - started:.0f}s")
                large = await api_rate(base, vocabulary)
        finally:
            await conn.close()
    return small, old, large


def rows(small: Rate, old: Rate, large: Rate) -> list[Row]:
    shape = f"{CLIENTS} clients"
    at_small = f"?search= on the dandiset list, {SMALL:,} dandisets, {shape}"
    return [
        Row(f"{at_small}: throughput (p50 {small.p50:.1f} ms)", small.per_second,
            TARGET_FACTOR * DANDI_RATE, f"target: 5x DANDI's {DANDI_RATE} req/s", "req/s"),
        Row(f"{at_small}: vs the old full-scan SQL alone (p50 {old.p50:.0f} ms)",
            small.per_second, old.per_second, "old statements, no HTTP", "req/s"),
        Row(f"?search=, {LARGE:,} dandisets, {shape}: throughput (p50 {large.p50:.1f} ms)",
            large.per_second, small.per_second / 2,
            f"target: half the rate at {SMALL:,}", "req/s"),
    ]  # fmt: skip


async def run(urls: ServerUrls) -> list[Row]:
    return rows(*await measure(urls))


def main() -> None:
    with ephemeral_servers() as urls:
        print(render(asyncio.run(run(urls))))


if __name__ == "__main__":
    main()
