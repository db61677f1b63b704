"""Search rows: indexing throughput, faceted query latency beside DANDI's JSON-path filters,
and freshness, on a synthetic corpus of BENCH_SEARCH_ASSETS assets in BENCH_SEARCH_DANDISETS
dandisets.

The issue asks for 1,000,000 assets in 10,000 dandisets; the default is a fifth of that,
200,000 in 2,000 (a few minutes on a 2-core machine), because at full size the load alone
takes about 10 minutes. BENCH_SEARCH_ASSETS=1000000
BENCH_SEARCH_DANDISETS=10000 runs the issue's size.

Everything lives in a scratch database on the bench's PostgreSQL and, when
DANDELION_TEST_OPENSEARCH_URL is set, in OpenSearch indices with a unique prefix; both are
dropped at the end.

- Load: the corpus (`search_corpus`) is streamed into both engines by their bulk paths
  (COPY, then one INSERT ... SELECT computing the same columns as `PostgresSearchBackend`,
  indexes built afterwards; raw `_bulk` with refreshes off), not document by document.
- Indexing docs/s: two disjoint samples of the corpus's assets, inserted into the full
  index. One goes through `asset_row` and `bulk_upsert` in 500-row batches, the drain's
  write path; the other through the engine's own bulk path (the floor, the reference).
  The sample is also the self-check: `asset_row` must give the documents the bulk load
  wrote, or the bench stops.
- Queries: a fixed list of typical searches (`cases`), each run `BENCH_SEARCH_RUNS` times
  after a warm-up (fewer when slow: at least 5, then until 5 s are spent) through
  `backend.search`, faceted (hits, total and every facet's counts: the targets' case) and
  with filters only (hits and total). Totals stop at 10,000 ("at least") and broad facet
  counts come from a sample, on both engines; the accuracy row compares those estimates
  with exact counts of the broadest query. DANDI's approach runs the same filters as JSON-path
  predicates over one metadata document per version (dandiset search) or per asset (its
  asset_search view), counting matches and fetching the first page, in the same PostgreSQL;
  it is compared with our filters-only runs, like for like. Summary percentiles weigh every
  query equally.
- Freshness: the real search worker runs (its cron drains the outbox every second); the
  bench commits an asset and its outbox row in one transaction, then polls search until
  the asset is found. OpenSearch keeps its default 1 s refresh interval.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from opensearchpy import AsyncOpenSearch

from bench.bench_foundation import process, service_env
from bench.scratch import asyncpg_dsn, scratch_database
from bench.search_corpus import AssetRecord, Corpus, Dandiset, dumps
from bench.table import Row, render
from dandelion_common.db.enums import OutboxEntity
from dandelion_common.db.models import Asset, AssetBlob, Version, VersionAsset
from dandelion_common.db.models import Dandiset as DandisetModel
from dandelion_common.db.session import Database
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.outbox import emit
from dandelion_common.settings import PostgresSettings
from dandelion_search.backends.base import SearchBackend
from dandelion_search.backends.opensearch import OpenSearchBackend, _source
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.documents import asset_row, dandiset_row
from dandelion_search.schemas import (
    Facet,
    IndexRow,
    Kind,
    Range,
    RangeField,
    SearchQuery,
    Visibility,
)

TARGET_P95_MS = {"OpenSearch": 100.0, "PostgreSQL": 250.0}
FRESHNESS_TARGET_S = 5.0
SKIPPED = 'skipped: no OpenSearch (run eval "$(make -s opensearch)")'
STAGE = "bench_search_stage"
LOAD_BATCH = 5000  # assets per COPY and per raw _bulk request
DRAIN_BATCH = 500  # `indexer.BATCH`: the drain writes assets in batches of this size
MIN_RUNS = 5
CASE_BUDGET_S = 5.0
POLL_S = 0.01
ANONYMOUS = Visibility.anonymous()
ADMIN = Visibility.administrator()


@dataclass(frozen=True)
class Scale:
    assets: int
    dandisets: int
    sample: int  # assets per indexing sample (two samples)
    runs: int  # timed runs per query
    probes: int  # freshness probes per engine

    @classmethod
    def from_env(cls) -> Scale:
        env = os.environ
        assets = int(env.get("BENCH_SEARCH_ASSETS", "200000"))
        return cls(
            assets=assets,
            dandisets=int(env.get("BENCH_SEARCH_DANDISETS", "2000")),
            sample=min(int(env.get("BENCH_SEARCH_SAMPLE", "10000")), assets // 10),
            runs=int(env.get("BENCH_SEARCH_RUNS", "30")),
            probes=int(env.get("BENCH_SEARCH_PROBES", "20")),
        )


def log(message: str) -> None:
    print(f"bench_search: {message}", file=sys.stderr, flush=True)


@contextmanager
def phase(name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    log(f"{name} in {time.monotonic() - started:.1f}s")


# --- the engines ---------------------------------------------------------------------------


@dataclass
class Engines:
    url: str  # the scratch database
    db: Database
    conn: Any  # a raw asyncpg connection: bulk loads and DANDI's queries
    postgres: PostgresSearchBackend
    opensearch: OpenSearchBackend | None

    def backends(self) -> list[tuple[str, SearchBackend]]:
        named: list[tuple[str, SearchBackend]] = [("PostgreSQL", self.postgres)]
        return named + ([("OpenSearch", self.opensearch)] if self.opensearch else [])


@asynccontextmanager
async def engines(server_url: str) -> AsyncIterator[Engines]:
    async with scratch_database(server_url, prefix="bench_search") as url:
        db = Database.connect(PostgresSettings(url=url, pool_size=4), application_name="bench")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        opensearch = None
        if os_url := os.environ.get("DANDELION_TEST_OPENSEARCH_URL"):
            client = AsyncOpenSearch(hosts=[os_url], timeout=300)
            opensearch = OpenSearchBackend(client, prefix=f"bench-search-{uuid.uuid4().hex[:8]}")
        try:
            yield Engines(url, db, conn, PostgresSearchBackend(db), opensearch)
        finally:
            if opensearch is not None:
                await opensearch.drop()
                await opensearch.close()
            await conn.close()
            await db.dispose()


# --- loading -------------------------------------------------------------------------------

RANGE_TYPES = {
    "age_days_min": "float8",
    "age_days_max": "float8",
    "electrode_count_min": "numeric::int",
    "electrode_count_max": "numeric::int",
}
# The columns `postgres._values` writes, computed in SQL from a staged `_source` document.
FROM_SOURCE = {
    "id": "s->>'id'",
    "dandiset_id": "(s->>'dandiset_id')::int",
    "embargoed": "(s->>'embargoed')::boolean",
    "title": "s->>'title'",
    "description": "s->>'description'",
    "sort_name": "s->>'sort_name'",
    "size": "(s->>'size')::bigint",
    "modified": "(s->>'modified')::timestamptz",
    "search": "setweight(to_tsvector('simple', s->>'title_text'), 'A')"
    " || setweight(to_tsvector('simple', s->>'body_text'), 'D')",
    **{f.value: f"ARRAY(SELECT jsonb_array_elements_text(s->'{f.value}'))" for f in Facet},
    **{name: f"(s->>'{name}')::{kind}" for name, kind in RANGE_TYPES.items()},
    "document": "s->'document'",
}
TABLES = {Kind.ASSETS: "search_assets", Kind.DANDISETS: "search_dandisets"}
DANDI_TABLES = {Kind.ASSETS: "bench_dandi_assets", Kind.DANDISETS: "bench_dandi_versions"}


COLUMNS, VALUES = ", ".join(FROM_SOURCE), ", ".join(FROM_SOURCE.values())


def _insert_from(table: str, source_sql: str) -> str:
    """INSERT the rows of `source_sql` (one jsonb column `s`) into a search table. OFFSET 0
    keeps the subquery whole: flattened, each `s->` would parse the text again (25 times)."""
    staged = f"({source_sql} OFFSET 0) AS staged"
    return f"INSERT INTO {table} ({COLUMNS}) SELECT {VALUES} FROM {staged}"


@dataclass
class Sample:
    """Assets kept out of the bulk load: `upsert` goes through `bulk_upsert`, `raw` through
    the engine's bulk path."""

    upsert: list[AssetRecord] = field(default_factory=list)
    raw: list[AssetRecord] = field(default_factory=list)


@dataclass
class Batch:
    staged: list[tuple[Any, ...]]
    sources: list[tuple[str, str]]  # the bulk part's (id, serialized `_source`)


def _stage_row(kind: Kind, part: str, source: dict[str, Any], dandi: Any) -> tuple[Any, ...]:
    src = dumps(source)
    return (
        kind.value,
        part,
        source["id"],
        source["dandiset_id"],
        source["embargoed"],
        src,
        dumps(dandi),
    )


def _batches(records: Iterator[AssetRecord], scale: Scale, sample: Sample) -> Iterator[Batch]:
    """The corpus in load batches; every `stride`-th asset goes to the samples instead."""
    stride = max(scale.assets // (2 * scale.sample), 2) if scale.sample else 0
    batch = Batch([], [])
    for n, record in enumerate(records):
        part = "bulk"
        if stride and n % stride == 0 and len(sample.raw) < scale.sample:
            part = "upsert" if len(sample.upsert) <= len(sample.raw) else "raw"
            getattr(sample, part).append(record)
        staged = _stage_row(Kind.ASSETS, part, record.source, record.dandi)
        batch.staged.append(staged)
        if part == "bulk":
            batch.sources.append((record.id, staged[5]))
        if len(batch.staged) == LOAD_BATCH:
            yield batch
            batch = Batch([], [])
    yield batch


async def raw_bulk(
    backend: OpenSearchBackend, kind: Kind, sources: Sequence[tuple[str, str]]
) -> None:
    """One `_bulk` request of (id, serialized `_source`) documents."""
    if not sources:
        return
    lines = []
    for doc_id, source in sources:
        lines += [dumps({"index": {"_id": doc_id}}), source]
    body = "\n".join(lines) + "\n"
    response = await backend.client.bulk(body=body, index=backend.alias(kind))
    assert not response["errors"], str(response["items"][:1])[:500]


async def _copy(conn: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    columns = ["kind", "part", "id", "dandiset_id", "embargoed", "src", "dandi"]
    await conn.copy_records_to_table(table, records=rows, columns=columns)


async def stream(e: Engines, corpus: Corpus, scale: Scale) -> Sample:
    """Stage every document in PostgreSQL and bulk-load OpenSearch, generating the next
    batch in a thread while the engines take the last one."""
    sample = Sample()
    batches = _batches(corpus.assets(), scale, sample)
    pending: list[Awaitable[Any]] = []
    while batch := await asyncio.to_thread(next, batches, None):
        await asyncio.gather(*pending)
        pending = [_copy(e.conn, STAGE, batch.staged)]
        if e.opensearch:
            pending.append(raw_bulk(e.opensearch, Kind.ASSETS, batch.sources))
    await asyncio.gather(*pending)
    rows = [dandiset_row(corpus.dandiset_document(d)) for d in corpus.dandisets]
    staged = [
        _stage_row(Kind.DANDISETS, "bulk", _source(row), corpus.dandi_version(d))
        for row, d in zip(rows, corpus.dandisets, strict=True)
    ]
    await _copy(e.conn, STAGE, staged)
    if e.opensearch:
        for start in range(0, len(staged), LOAD_BATCH):
            chunk = [(s[2], s[5]) for s in staged[start : start + LOAD_BATCH]]
            await raw_bulk(e.opensearch, Kind.DANDISETS, chunk)
    return sample


async def _set_refresh(backend: OpenSearchBackend, interval: str | None) -> None:
    for kind in Kind:
        await backend.client.indices.put_settings(
            index=backend.alias(kind), body={"index": {"refresh_interval": interval}}
        )


async def merged(backend: OpenSearchBackend, patience: float = 120) -> None:
    """Wait for the background merges a bulk load starts: queries then meet the index in
    its steady state (not force-merged: the merge policy decides the segments)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        stats = await backend.client.indices.stats(index=f"{backend.prefix}-*", metric="merge")
        if stats["_all"]["total"]["merges"]["current"] == 0:
            return
        await asyncio.sleep(1)


async def load(e: Engines, corpus: Corpus, scale: Scale) -> Sample:
    """The corpus in both engines (minus the samples) and in DANDI's tables."""
    await e.conn.execute(
        f"CREATE UNLOGGED TABLE {STAGE} (kind text, part text, id text, dandiset_id int,"
        " embargoed boolean, src text, dandi text)"
    )
    if e.opensearch:
        await e.opensearch.ensure_schema()
        await _set_refresh(e.opensearch, "-1")
    with phase("generated, staged in PostgreSQL and loaded into OpenSearch"):
        sample = await stream(e, corpus, scale)
    if e.opensearch:
        await _set_refresh(e.opensearch, None)  # back to the default 1 s
        await e.opensearch.client.indices.refresh(index=f"{e.opensearch.prefix}-*")
        with phase("OpenSearch merges after the load"):
            await merged(e.opensearch)
    await e.conn.execute("SET maintenance_work_mem = '256MB'")
    for kind, table in TABLES.items():
        indexes = await e.conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            table,
        )
        for index in indexes:
            await e.conn.execute(f'DROP INDEX "{index["indexname"]}"')
        staged = f"SELECT src::jsonb AS s FROM {STAGE} WHERE kind = '{kind}' AND part = 'bulk'"
        with phase(f"{table}: rows built from the stage"):
            await e.conn.execute(_insert_from(table, staged))
        with phase(f"{table}: {len(indexes)} indexes built"):
            for index in indexes:  # once over the loaded rows: much faster than row by row
                await e.conn.execute(index["indexdef"])
    with phase("DANDI's tables built"):
        await dandi_tables(e.conn)
    with phase("search tables vacuumed"):
        await e.conn.execute(f"VACUUM ANALYZE {', '.join(TABLES.values())}")
    return sample


async def dandi_tables(conn: Any) -> None:
    """DANDI's documents: a version's metadata per dandiset, an asset's per asset."""
    await conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    for kind, table in DANDI_TABLES.items():
        key = "id::uuid" if kind is Kind.ASSETS else "id"
        await conn.execute(
            f"CREATE TABLE {table} AS SELECT {key} AS id, dandiset_id, embargoed,"
            f" dandi::jsonb AS metadata FROM {STAGE} WHERE kind = '{kind}'"
        )
        await conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        await conn.execute(f"VACUUM ANALYZE {table}")


# --- indexing throughput ---------------------------------------------------------------------


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def upsert_rate(backend: SearchBackend, rows: list[IndexRow]) -> float:
    async def write() -> None:
        for start in range(0, len(rows), DRAIN_BATCH):
            await backend.bulk_upsert(Kind.ASSETS, rows[start : start + DRAIN_BATCH])

    return len(rows) / await timed(write)


async def postgres_floor(conn: Any, records: list[AssetRecord]) -> float:
    """COPY the documents, then build their rows in one INSERT ... SELECT."""
    table = f"{STAGE}_raw"
    await conn.execute(f"CREATE TEMP TABLE {table} (LIKE {STAGE})")

    async def write() -> None:
        staged = [_stage_row(Kind.ASSETS, "raw", r.source, None) for r in records]
        await _copy(conn, table, staged)
        await conn.execute(_insert_from("search_assets", f"SELECT src::jsonb AS s FROM {table}"))

    seconds = await timed(write)
    await conn.execute(f"DROP TABLE {table}")
    return len(records) / seconds


async def opensearch_floor(backend: OpenSearchBackend, records: list[AssetRecord]) -> float:
    async def write() -> None:
        for start in range(0, len(records), LOAD_BATCH):
            chunk = records[start : start + LOAD_BATCH]
            await raw_bulk(backend, Kind.ASSETS, [(r.id, dumps(r.source)) for r in chunk])

    return len(records) / await timed(write)


async def check_rows(conn: Any, upserted: int) -> None:
    """The bulk load's SQL must build exactly the rows `bulk_upsert` wrote."""
    stored = ", ".join(f"a.{c}" for c in FROM_SOURCE)
    same = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT src::jsonb AS s FROM {STAGE} WHERE part = 'upsert') AS st"
        f" JOIN search_assets AS a ON a.id = st.s->>'id'"
        f" WHERE ROW({stored}) IS NOT DISTINCT FROM ROW({VALUES})"
    )
    assert same == upserted, f"bulk-loaded rows differ from bulk_upsert's: {same}/{upserted}"


async def indexing_rows(e: Engines, sample: Sample) -> list[Row]:
    rows = [asset_row(record.asset_document()) for record in sample.upsert]
    for row, record in zip(rows, sample.upsert, strict=True):
        assert _source(row) == record.source, f"asset_row differs from the corpus: {row.id}"
    indexed = await e.conn.fetchval("SELECT count(*) FROM search_assets")
    label = f"bulk_upsert, {DRAIN_BATCH}/batch, {len(rows):,} assets into {indexed:,} indexed"
    results = []
    ours = await upsert_rate(e.postgres, rows)
    floor = await postgres_floor(e.conn, sample.raw)
    await check_rows(e.conn, len(rows))
    await e.conn.execute(f"DROP TABLE {STAGE}")
    await e.conn.execute(f"VACUUM ANALYZE {', '.join(TABLES.values())}")
    results.append(
        Row(
            f"search indexing, PostgreSQL: {label}",
            ours,
            floor,
            "COPY + INSERT...SELECT, same docs",
            "docs/s",
        )
    )
    if e.opensearch is None:
        results.append(
            Row(
                f"search indexing, OpenSearch: {SKIPPED}",
                math.nan,
                math.nan,
                "raw _bulk, same docs",
                "docs/s",
            )
        )
        return results
    ours = await upsert_rate(e.opensearch, rows)
    floor = await opensearch_floor(e.opensearch, sample.raw)
    await e.opensearch.client.indices.refresh(index=f"{e.opensearch.prefix}-*")
    results.append(
        Row(
            f"search indexing, OpenSearch: {label}",
            ours,
            floor,
            f"raw _bulk, {LOAD_BATCH:,}/request, same docs",
            "docs/s",
        )
    )
    return results


# --- queries -------------------------------------------------------------------------------


def _text(word: str) -> str:
    """DANDI's free text: a case- and accent-insensitive substring of the whole document."""
    return f"unaccent(metadata::text) ILIKE unaccent('%{word}%')"


def _like(path: str, value: str) -> str:
    """DANDI's species/approach/technique operators: a case-insensitive regex match."""
    return f"""metadata @? '{path} ? (@ like_regex "{value}" flag "i")'"""


def _equals(path: str, value: str) -> str:
    return f"""metadata @? '{path} ? (@ == "{value}")'"""


def _between(path: str, low: float, high: float) -> str:
    return f"metadata @? '{path} ? (@ >= {low} && @ <= {high})'"


@dataclass(frozen=True)
class Case:
    name: str
    query: SearchQuery
    dandi: list[str]  # DANDI's predicates over `metadata`, ANDed
    visibility: Visibility = ANONYMOUS


MOUSE, RAT, EPHYS = "Mus musculus", "Rattus norvegicus", "electrophysiological approach"
SPECIES = "$.wasAttributedTo[*].species.name"
SUMMARY = "$.assetsSummary"


def cases(owned: frozenset[int]) -> list[Case]:
    a, d = Kind.ASSETS, Kind.DANDISETS
    f = Facet
    return [
        Case(
            "dandisets: text 'hippocampus'",
            SearchQuery(kind=d, text="hippocampus"),
            [_text("hippocampus")],
        ),
        Case(
            "dandisets: text 'cortex' + species + approach",
            SearchQuery(kind=d, text="cortex", facets={f.SPECIES: {MOUSE}, f.APPROACH: {EPHYS}}),
            [
                _text("cortex"),
                _like(f"{SUMMARY}.species[*].name", MOUSE),
                _like(f"{SUMMARY}.approach[*].name", EPHYS),
            ],
        ),
        Case(
            "dandisets: technique 'patch clamp'",
            SearchQuery(kind=d, facets={f.TECHNIQUE: {"patch clamp technique"}}),
            [_like(f"{SUMMARY}.measurementTechnique[*].name", "patch clamp")],
        ),
        Case("assets: everything (no filter)", SearchQuery(kind=a), []),
        Case(
            "assets: species",
            SearchQuery(kind=a, facets={f.SPECIES: {MOUSE}}),
            [_like(SPECIES, MOUSE)],
        ),
        Case(
            "assets: species + brain region",
            SearchQuery(kind=a, facets={f.SPECIES: {RAT}, f.BRAIN_REGION: {"CA1"}}),
            [_like(SPECIES, RAT), _equals("$.about[*].name", "CA1")],
        ),
        Case(
            "assets: technique 'patch clamp'",
            SearchQuery(kind=a, facets={f.TECHNIQUE: {"patch clamp technique"}}),
            [_like("$.measurementTechnique[*].name", "patch clamp")],
        ),
        Case(
            "assets: electrodes 64-512",
            SearchQuery(kind=a, ranges={RangeField.ELECTRODE_COUNT: Range(gte=64, lte=512)}),
            [_between("$.electrodeCount", 64, 512)],
        ),
        Case(
            "assets: age 30-90 days",
            SearchQuery(kind=a, ranges={RangeField.AGE_DAYS: Range(gte=30, lte=90)}),
            [_between("$.wasAttributedTo[*].age.days", 30, 90)],
        ),
        Case(
            "assets: text 'ecephys' + species + sex",
            SearchQuery(kind=a, text="ecephys", facets={f.SPECIES: {MOUSE}, f.SEX: {"F"}}),
            [
                _text("ecephys"),
                _like(SPECIES, MOUSE),
                _equals("$.wasAttributedTo[*].sex.name", "F"),
            ],
        ),
        Case(
            "assets: an owner's view, neurodata type",
            SearchQuery(kind=a, facets={f.NEURODATA_TYPE: {"ElectricalSeries"}}),
            [_equals("$.variableMeasured[*].value", "ElectricalSeries")],
            Visibility.owner_of(owned),
        ),
    ]


async def dandi_search(conn: Any, case: Case) -> int:
    """DANDI's way: the filters over the metadata documents; the count, then a page."""
    table = DANDI_TABLES[case.query.kind]
    visible = "NOT embargoed"
    if owned := case.visibility.owned_dandisets:
        visible = f"({visible} OR dandiset_id = ANY('{{{','.join(map(str, owned))}}}'::int[]))"
    where = " AND ".join([visible, *case.dandi])
    total = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}")
    await conn.fetch(f"SELECT id, metadata FROM {table} WHERE {where} ORDER BY id LIMIT 20")
    return int(total)


async def latencies(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    """Milliseconds of `runs` calls after a warm-up; at least MIN_RUNS, then as many as
    CASE_BUDGET_S allows."""
    await call()
    times: list[float] = []
    deadline = time.perf_counter() + CASE_BUDGET_S
    while len(times) < runs and (len(times) < MIN_RUNS or time.perf_counter() < deadline):
        times.append(await timed(call) * 1000)
    return times


def percentile(values: Sequence[float], q: float, weights: Sequence[float] | None = None) -> float:
    """The q-quantile (0..1) of `values`, each counting `weights[i]` (default 1)."""
    pairs = sorted(zip(values, weights or [1.0] * len(values), strict=True))
    total, seen = sum(w for _, w in pairs), 0.0
    for value, weight in pairs:
        seen += weight
        if seen >= q * total - 1e-9:
            return value
    return pairs[-1][0]


def pooled(samples: Sequence[Sequence[float]], q: float) -> float:
    """The q-quantile of all samples with every query weighing the same."""
    values = [v for s in samples for v in s]
    weights = [1 / len(s) for s in samples for _ in s]
    return percentile(values, q, weights)


FACETED, FILTERS = "faceted", "filters only"
ENGINES = ("PostgreSQL", "OpenSearch")


@dataclass
class Timings:
    """Milliseconds by (engine, mode): one list of runs per case, in case order."""

    runs: dict[tuple[str, str], list[list[float]]] = field(default_factory=dict)

    def add(self, engine: str, mode: str, runs: list[float]) -> None:
        self.runs.setdefault((engine, mode), []).append(runs)

    def has(self, engine: str) -> bool:
        return (engine, FILTERS) in self.runs

    def case(self, engine: str, mode: str, index: int, q: float = 0.95) -> float:
        return percentile(self.runs[engine, mode][index], q)

    def pooled(self, engine: str, mode: str, q: float) -> float:
        return pooled(self.runs[engine, mode], q)


ERROR_BUDGET_PCT = 10.0
EXACT = 2**31 - 1  # a cap and sample size no corpus reaches (OpenSearch takes an int)


async def accuracy_rows(e: Engines) -> list[Row]:
    """How far the sampled facet counts of the broadest query are from exact counts: the
    relative error of each facet's ten top values, p95 over all of them."""
    query = SearchQuery(kind=Kind.ASSETS)
    exact_engines: dict[str, SearchBackend] = {
        "PostgreSQL": PostgresSearchBackend(e.db, total_cap=EXACT, sample_rows=EXACT)
    }
    if e.opensearch:
        exact_engines["OpenSearch"] = OpenSearchBackend(
            e.opensearch.client, prefix=e.opensearch.prefix, total_cap=EXACT, sample_rows=EXACT
        )
    rows = []
    for engine, backend in e.backends():
        sampled = await backend.search(query, ANONYMOUS)
        exact = await exact_engines[engine].search(query, ANONYMOUS)
        estimates = {(f, c.value): c.count for f, counts in sampled.facets.items() for c in counts}
        errors = [
            100 * abs(estimates.get((facet, c.value), 0) - c.count) / c.count
            for facet, counts in exact.facets.items()
            for c in counts[:10]
        ]
        label = (
            f"facet counts over {exact.total:,} matches from a sample, {engine}: p95 relative"
            f" error of each facet's top 10 (exact: {sampled.facets_exact})"
        )
        rows.append(Row(label, percentile(errors, 0.95), ERROR_BUDGET_PCT, "error budget", "%",
                        higher_is_better=False))  # fmt: skip
    return rows


async def query_rows(e: Engines, owned: frozenset[int], scale: Scale) -> list[Row]:
    """Each case faceted (hits, total, every facet's counts) and with filters only (hits and
    total, what DANDI's filter gives) on our engines, and DANDI's filter."""
    timings, names, per_case = Timings(), [], []
    for index, case in enumerate(cases(owned)):
        names.append(case.name)
        totals = {}
        bare = case.query.model_copy(update={"facet_size": 0, "highlight": False})
        for engine, backend in e.backends():
            totals[engine] = (await backend.search(case.query, case.visibility)).total
            for mode, query in ((FACETED, case.query), (FILTERS, bare)):
                call = functools.partial(backend.search, query, case.visibility)
                timings.add(engine, mode, await latencies(call, scale.runs))
        totals["DANDI"] = await dandi_search(e.conn, case)
        dandi = functools.partial(dandi_search, e.conn, case)
        timings.add("DANDI", FILTERS, await latencies(dandi, max(MIN_RUNS, scale.runs // 3)))
        p95 = {f"{n} {m}": f"{percentile(r[-1], 0.95):.1f}" for (n, m), r in timings.runs.items()}
        log(f"{case.name}: matches {totals}; p95 ms {p95}")
        per_case.append(case_row(timings, case.name, index))
    return [*target_rows(timings, names), *dandi_rows(timings, len(names)), *per_case]


def case_row(timings: Timings, name: str, index: int) -> Row:
    faceted = ", ".join(
        f"{engine} {timings.case(engine, FACETED, index):.0f}"
        for engine in ENGINES
        if timings.has(engine)
    )
    return Row(
        f"search p95, {name}, filters only, PostgreSQL (faceted p95: {faceted} ms)",
        timings.case("PostgreSQL", FILTERS, index),
        timings.case("DANDI", FILTERS, index),
        "DANDI JSON-path filter",
        "ms",
        higher_is_better=False,
    )


def target_rows(timings: Timings, names: list[str]) -> list[Row]:
    """Each engine's faceted searches against the issue's p95 target."""
    rows = []
    for engine in ("OpenSearch", "PostgreSQL"):
        label = f"search p95, {len(names)} typical faceted queries, {engine}"
        target = TARGET_P95_MS[engine]
        if not timings.has(engine):
            rows.append(Row(f"{label}: {SKIPPED}", math.nan, target, "target p95", "ms", False))
            continue
        worst = max(range(len(names)), key=lambda i: timings.case(engine, FACETED, i))
        label += (
            f" (p50 {timings.pooled(engine, FACETED, 0.5):.1f} ms; slowest: {names[worst]},"
            f" {timings.case(engine, FACETED, worst):.0f} ms)"
        )
        p95 = timings.pooled(engine, FACETED, 0.95)
        rows.append(Row(label, p95, target, "target p95", "ms", higher_is_better=False))
    return rows


def dandi_rows(timings: Timings, count: int) -> list[Row]:
    """Like for like: our filters (hits and total) against DANDI's JSON-path filters."""
    return [
        Row(
            f"search {what}, {count} queries, filters only: ours on {engine} vs DANDI's",
            timings.pooled(engine, FILTERS, q),
            timings.pooled("DANDI", FILTERS, q),
            "DANDI JSON-path filter",
            "ms",
            higher_is_better=False,
        )
        for engine in ENGINES
        if timings.has(engine)
        for q, what in ((0.5, "p50"), (0.95, "p95"))
    ]


# --- freshness -----------------------------------------------------------------------------


async def probe_dandiset(db: Database, dandiset_id: int) -> int:
    """A dandiset whose draft receives the probe assets; returns the version's id."""
    async with db.session() as session:
        session.add(DandisetModel(id=dandiset_id))
        await session.flush()
        version = Version(
            dandiset_id=dandiset_id,
            version="draft",
            name="Freshness probes",
            metadata_={"description": "bench"},
        )
        session.add(version)
        await session.commit()
        return version.id


async def write_probe(db: Database, version_id: int, token: str) -> None:
    """One committed change: a new asset and its outbox row, in one transaction."""
    async with db.session() as session:
        blob = AssetBlob(etag=f"{uuid.uuid4().hex}-1", size=1)
        session.add(blob)
        await session.flush()
        asset = Asset(
            path=f"probes/{token}.nwb",
            blob_id=blob.id,
            metadata_={"encodingFormat": "application/x-nwb"},
        )
        session.add(asset)
        await session.flush()
        session.add(VersionAsset(version_id=version_id, asset_id=asset.id, path=asset.path))
        emit(session, OutboxEntity.ASSET, asset.id)
        await session.commit()


async def lag(db: Database, backend: SearchBackend, version_id: int, patience: float) -> float:
    token = f"probe{uuid.uuid4().hex[:12]}"
    query = SearchQuery(kind=Kind.ASSETS, text=token, size=1, facet_size=0, highlight=False)
    await write_probe(db, version_id, token)
    start = time.perf_counter()
    while (await backend.search(query, ADMIN)).total == 0:
        if time.perf_counter() - start > patience:
            raise TimeoutError(f"probe {token} not searchable after {patience:.0f}s")
        await asyncio.sleep(POLL_S)
    return time.perf_counter() - start


async def freshness_rows(e: Engines, urls: ServerUrls, scale: Scale) -> list[Row]:
    version_id = await probe_dandiset(e.db, scale.dandisets + 1)
    rng = random.Random(7)
    rows = []
    for name, backend in e.backends():
        env = service_env(urls) | {"DANDELION_POSTGRES__URL": e.url}
        env.pop("DANDELION_OPENSEARCH__URL", None)
        if isinstance(backend, OpenSearchBackend):
            env["DANDELION_OPENSEARCH__URL"] = os.environ["DANDELION_TEST_OPENSEARCH_URL"]
            env["DANDELION_OPENSEARCH__INDEX_PREFIX"] = backend.prefix
        argv = [sys.executable, "-m", "dandelion_common.cli", "worker", "search"]
        with process(argv, env):
            await lag(e.db, backend, version_id, patience=120)  # the worker is up
            lags = []
            for _ in range(scale.probes):
                await asyncio.sleep(rng.random())  # commits fall anywhere in the cron's second
                lags.append(await lag(e.db, backend, version_id, patience=60))
        p50, p95 = statistics.median(lags), percentile(lags, 0.95)
        log(f"freshness on {name}: {', '.join(f'{x:.2f}' for x in lags)} s")
        rows.append(
            Row(
                f"search freshness p95, {name}: commit to searchable, worker draining every 1 s "
                f"(p50 {p50:.2f} s, {len(lags)} probes)",
                p95,
                FRESHNESS_TARGET_S,
                "target p95",
                "s",
                higher_is_better=False,
            )
        )
    if e.opensearch is None:
        rows.append(
            Row(
                f"search freshness p95, OpenSearch: {SKIPPED}",
                math.nan,
                FRESHNESS_TARGET_S,
                "target p95",
                "s",
                higher_is_better=False,
            )
        )
    return rows


# --- the run -------------------------------------------------------------------------------


def owners_view(dandisets: list[Dandiset]) -> frozenset[int]:
    """The five largest embargoed dandisets: what an active owner sees beyond open data."""
    embargoed = sorted((d for d in dandisets if d.embargoed), key=lambda d: -d.asset_count)
    return frozenset(d.id for d in embargoed[:5])


async def run(urls: ServerUrls) -> list[Row]:
    scale = Scale.from_env()
    started = time.monotonic()
    corpus = Corpus(assets=scale.assets, dandisets=scale.dandisets)
    async with engines(urls.postgres) as e:
        log(
            f"{scale.assets:,} assets in {scale.dandisets:,} dandisets; OpenSearch: "
            f"{'yes' if e.opensearch else 'no'}"
        )
        sample = await load(e, corpus, scale)
        rows = await indexing_rows(e, sample)
        log(f"loaded and indexed in {time.monotonic() - started:.0f}s")
        rows += await query_rows(e, owners_view(corpus.dandisets), scale)
        rows += await accuracy_rows(e)
        log(f"queries done at {time.monotonic() - started:.0f}s")
        rows += await freshness_rows(e, urls, scale)
    log(f"done in {time.monotonic() - started:.0f}s")
    return rows


def main() -> None:
    with ephemeral_servers() as urls:
        rows = asyncio.run(run(urls))
    print(render(rows))


if __name__ == "__main__":
    main()
