"""Load rows: a mixed read/write workload of BENCH_LOAD_CLIENTS (100) concurrent clients for
BENCH_LOAD_SECONDS (60 s) against the stack `make run` starts (the API, and the ingest and
search workers unless BENCH_LOAD_WORKERS names fewer) as processes on the throwaway servers.

The scratch database holds one dandiset per client (each with ASSETS assets, owned by that
client's user). Clients are closed loops sharing one HTTP connection pool: each picks a
request at random, 80 % reads (the dandiset list, one dandiset, its versions, its draft, its
asset list and folders, a search) and 20 % writes in its own dandiset (a new dandiset, a
metadata PUT of its draft, a new asset on an existing blob), and sends the next when the
answer is in. Every client sends its API key, so each request also looks its caller up.

Phases, on one API process (bench.load_probes: `dandelion api`'s app with the pool's
checkouts timed): the same clients asking only `GET /api/info/` (the ceiling: what the
process serves when a request costs nothing), the mix, then each endpoint alone for
BENCH_LOAD_ALONE_SECONDS (5 s); then the ceiling and the mix again on `dandelion api` with
one process per core. Rows: the mix's throughput against the ceiling (target 0.5); p99 of
each endpoint under the mix against twice its p50 (target); the pool's wait; N processes
against 1. Then a table per endpoint: requests/s alone, the API's SQL statements and
transaction-control round trips per request and PostgreSQL execution ms per request (from
pg_stat_statements, which the throwaway PostgreSQL preloads; the API logs in as a role of
its own so the workers' statements stay out), and p50/p99 under the mix.

Measured here (2 cores shared with other test runs, so absolute rates swing by 2-5x between
runs; 100 clients, 20 s; before = main at 3ebb728 with this bench, after = this branch):

    measure                                   before              after (two runs)
    mix / /api/info/ ceiling, same run        0.17 (10.6/63.6)    0.30 (84/284), 0.14 (49/342)
    SQL statements per mix request            7.4                 3.7
    PostgreSQL ms per mix request             0.65                0.61, 0.64
    statements alone: list, dandiset,         6, 6, 8, 3, 5,      2, 2, 3, 2, 3,
      versions, draft, assets, folders,       5, 5.8              3, 2
      search (each + 1 for the key lookup)
    ... create, metadata PUT, asset create    13, 13.4, 12.8      7, 6.3-6.8, 10
    p99/p50 per endpoint under the mix        1.4-4.7             2.8-11.9
    pool wait p50 / p99 under the mix         4.6 / 21.5 s        0.66-1.1 / 4.8-7.3 s
    share of checkouts that queued            68 %                60 %
    mix on 2 API processes / on 1             (1 process only)    1.05, 1.42

The tail is the connection pool's queue: most checkouts wait (60-68 %), and the wait's p99
is 5-7x its p50 although the endpoints' own work is a few ms. SQLAlchemy's async pool hands
connections through an asyncio.Queue, where a request arriving as a connection comes back
takes it before the waiter it was handed to resumes, and that waiter queues again at the
back. With a pool as large as the clients (DANDELION_POSTGRES__POOL_SIZE=100, no overflow)
no request waits there and p99/p50 fell to 1.2-1.7 for every endpoint, at the same
throughput. Each request also makes about 4 round trips of transaction control: the pool's
pre-ping (BEGIN; ";"; ROLLBACK) and the request's own BEGIN and COMMIT.

`python -m bench.bench_load --summary` prints one JSON line of the mixed load alone (what the
CI smoke test checks); without it, the table.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from pydantic import SecretStr

from bench.bench_foundation import process, service_env
from bench.load_probes import DatabaseWork, StatementCounter, as_api_role
from bench.scratch import asyncpg_dsn, scratch_database
from bench.table import Row, render
from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.devstack.process import free_port
from dandelion_common.settings import S3Settings
from dandelion_common.storage import S3Storage

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "100"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
# The workers `make run` starts beside the API (their jobs compete with it for the CPU).
WORKERS = [q for q in os.environ.get("BENCH_LOAD_WORKERS", "ingest,search").split(",") if q]
CEILING_SECONDS = 10.0
ALONE_SECONDS = float(os.environ.get("BENCH_LOAD_ALONE_SECONDS", "5"))
ENDPOINTS = ("dandiset list", "dandiset", "versions", "draft", "asset list", "folders", "search",
             "dandiset create", "metadata PUT", "asset create")  # fmt: skip
ASSETS = 20
WRITE_SHARE = 0.2
TARGET_P99_MS = 1000.0
REQUEST_TIMEOUT = 60.0  # far past any target: a request that takes this long is an error
BUCKET = "dandelion-load"

# Asset and blob ids must look like UUID4 (DANDI's URL pattern).
_UUID4 = "overlay(overlay(md5({seed})::text placing '4' from 13) placing '8' from 17)::uuid"
SEED_SQL = f"""
INSERT INTO dandisets (id) SELECT generate_series(1, $1);
SELECT setval(pg_get_serial_sequence('dandisets', 'id'), $1);
INSERT INTO dandiset_owners (dandiset_id, user_id)
    SELECT d.id, u.id FROM dandisets d JOIN users u ON u.username = 'load' || d.id;
INSERT INTO versions (dandiset_id, version, name, metadata)
    SELECT id, 'draft', 'Load dandiset ' || id, '{{"description": "Under load."}}'
    FROM dandisets;
CREATE TEMP TABLE seed AS
    SELECT d, k, format('sub-%s/sub-%s_ses-%s.nwb', k, k, d) AS path,
           {_UUID4.format(seed="d || '-a-' || k")} AS asset_id,
           {_UUID4.format(seed="d || '-b-' || k")} AS blob_id, 1000 + k AS size
    FROM generate_series(1, $1) AS d, generate_series(1, $2) AS k;
INSERT INTO asset_blobs (id, etag, size) SELECT blob_id, md5(d || '-' || k) || '-1', size FROM seed;
INSERT INTO assets (id, path, blob_id, metadata)
    SELECT asset_id, path, blob_id, jsonb_build_object('path', path, 'schemaKey', 'Asset')
    FROM seed;
INSERT INTO version_assets (version_id, asset_id, path, created)
    SELECT v.id, asset_id, path, now() FROM seed JOIN versions v ON v.dandiset_id = seed.d;
INSERT INTO asset_paths (version_id, path, parent, asset_id, aggregate_files, aggregate_size)
    SELECT v.id, path, split_part(path, '/', 1), asset_id, 1, seed.size
    FROM seed JOIN versions v ON v.dandiset_id = seed.d;
INSERT INTO asset_paths (version_id, path, parent, asset_id, aggregate_files, aggregate_size)
    SELECT v.id, split_part(path, '/', 1), '', NULL, count(*), sum(seed.size)
    FROM seed JOIN versions v ON v.dandiset_id = seed.d GROUP BY 1, 2;
UPDATE versions SET asset_count = $2,
    size = (SELECT sum(seed.size) FROM seed WHERE seed.d = versions.dandiset_id);
"""


@dataclass(frozen=True)
class World:
    """What the clients know: their API keys (client n owns dandiset n + 1) and the blobs."""

    keys: list[str]
    blobs: list[str]

    @property
    def dandisets(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class Call:
    endpoint: str
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class Client:
    """One simulated user: its number, key and a counter for unique names."""

    number: int
    key: str
    world: World
    sent: int = 0

    @property
    def own(self) -> str:
        return f"{self.number + 1:06}"

    def unique(self) -> str:
        self.sent += 1
        return f"{self.number}-{self.sent}"


def _reads(client: Client, rng: random.Random) -> Call:
    some = f"{rng.randint(1, client.world.dandisets):06}"
    pages = max(1, client.world.dandisets // 100)
    return rng.choice(
        [
            Call("dandiset list", "GET", f"/api/dandisets/?page={rng.randint(1, pages)}"),
            Call("dandiset", "GET", f"/api/dandisets/{some}/"),
            Call("versions", "GET", f"/api/dandisets/{some}/versions/"),
            Call("draft", "GET", f"/api/dandisets/{some}/versions/draft/"),
            Call("asset list", "GET", f"/api/dandisets/{some}/versions/draft/assets/"),
            Call("folders", "GET", f"/api/dandisets/{some}/versions/draft/assets/paths/"),
            Call("search", "GET", f"/api/dandisets/?search=dandiset {int(some)}"),
        ]
    )


def _writes(client: Client, rng: random.Random) -> Call:
    draft = f"/api/dandisets/{client.own}/versions/draft/"
    name = f"Load {client.unique()}"
    asset = {"blob_id": rng.choice(client.world.blobs), "metadata": {"path": f"load/{name}.nwb"}}
    metadata = {"name": name, "metadata": {"description": f"Edited under load: {name}."}}
    return rng.choice(
        [
            Call("dandiset create", "POST", "/api/dandisets/", {"name": name, "metadata": {}}),
            Call("metadata PUT", "PUT", draft, metadata),
            Call("asset create", "POST", f"{draft}assets/", asset),
        ]
    )


def mixed(client: Client, rng: random.Random) -> Call:
    return _writes(client, rng) if rng.random() < WRITE_SHARE else _reads(client, rng)


def info_only(client: Client, rng: random.Random) -> Call:
    return Call("info", "GET", "/api/info/")


Workload = Callable[[Client, random.Random], Call]


def alone(endpoint: str) -> Workload:
    """The mix's calls of one endpoint only (drawn from the mix, so the same requests)."""

    def only(client: Client, rng: random.Random) -> Call:
        while (call := mixed(client, rng)).endpoint != endpoint:
            pass
        return call

    return only


@dataclass
class LoadResult:
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)  # ms, answered requests
    errors: Counter[str] = field(default_factory=Counter)  # 5xx, timeouts, connection errors
    rejected: Counter[str] = field(default_factory=Counter)  # 4xx: the workload is wrong

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def record(self, call: Call, status: int | str, ms: float) -> None:
        if isinstance(status, str) or status >= 500:
            self.errors[f"{call.endpoint}: {status}"] += 1
            return
        if status >= 400:
            self.rejected[f"{call.endpoint}: {status}"] += 1
        self.latencies.setdefault(call.endpoint, []).append(ms)

    def percentiles(self, endpoint: str) -> tuple[float, float]:
        """p50 and p99 in ms."""
        times = self.latencies[endpoint]
        if len(times) < 2:
            return times[0], times[0]
        return statistics.median(times), statistics.quantiles(times, n=100)[98]

    def summary(self) -> dict[str, Any]:
        endpoints = {}
        for endpoint, times in sorted(self.latencies.items()):
            p50, p99 = self.percentiles(endpoint)
            endpoints[endpoint] = {"requests": len(times), "p50_ms": p50, "p99_ms": p99}
        return {
            "seconds": self.seconds, "requests": self.requests,
            "throughput": self.throughput, "errors": dict(self.errors),
            "rejected": dict(self.rejected), "endpoints": endpoints,
        }  # fmt: skip


async def _send(http: aiohttp.ClientSession, client: Client, call: Call) -> int | str:
    headers = {"Authorization": f"token {client.key}"}
    try:
        async with http.request(call.method, call.path, json=call.body, headers=headers) as answer:
            await answer.read()
            return answer.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def _user(
    http: aiohttp.ClientSession,
    client: Client,
    workload: Workload,
    until: float,
    result: LoadResult,
) -> None:
    rng = random.Random(client.number)  # a workload, not a secret
    while time.monotonic() < until:
        call = workload(client, rng)
        started = time.perf_counter()
        status = await _send(http, client, call)
        result.record(call, status, (time.perf_counter() - started) * 1000)


async def load(
    base_url: str, world: World, workload: Workload, *, clients: int, seconds: float
) -> LoadResult:
    """`clients` closed loops for `seconds` against the API at `base_url`."""
    # aiohttp, not httpx: httpx's connection pool costs more CPU per request as connections
    # grow, and at 200 it capped this bench at ~60 requests/s, a tenth of what the API
    # serves (measured against raw keep-alive sockets), so the numbers were the client's.
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    users = [Client(n, world.keys[n % len(world.keys)], world) for n in range(clients)]
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as http:
        started = time.monotonic()
        result = LoadResult(seconds)
        await asyncio.gather(*(_user(http, u, workload, started + seconds, result) for u in users))
        result.seconds = time.monotonic() - started
    return result


async def seed(url: str, clients: int) -> World:
    keys = [generate_api_key() for _ in range(clients)]
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO users (username, status) VALUES ($1, 'APPROVED')",
                [(f"load{n + 1}",) for n in range(clients)],
            )
            await conn.execute(
                "INSERT INTO api_tokens (user_id, key_hash) SELECT id, k.hash FROM users JOIN "
                "unnest($1::text[], $2::text[]) AS k(username, hash) USING (username)",
                [f"load{n + 1}" for n in range(clients)],
                [hash_api_key(key) for key in keys],
            )
            sql = SEED_SQL.replace("$1", str(clients)).replace("$2", str(ASSETS))
            for statement in filter(str.strip, sql.split(";\n")):  # both numbers are ints
                await conn.execute(statement)
        blobs = [str(row["id"]) for row in await conn.fetch("SELECT id FROM asset_blobs")]
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return World(keys, blobs)


@contextmanager
def stack(urls: ServerUrls, database: str, *, processes: int | None = None) -> Iterator[str]:
    """The API and the WORKERS on `database`; yields the API's base URL.

    Without `processes`: one API process with its pool's waits timed (bench.load_probes);
    with it, `dandelion api` as deployed, in that many worker processes.
    """
    port = free_port()
    env = service_env(urls) | {
        "DANDELION_POSTGRES__URL": database,
        "DANDELION_S3__BUCKET": BUCKET,
        "DANDELION_API__PORT": str(port),
        "DANDELION_API__PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    cli = [sys.executable, "-m", "dandelion_common.cli"]
    api = [*cli, "api"]
    if processes is None:
        api = [sys.executable, "-m", "uvicorn", "bench.load_probes:create_app", "--factory",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    api_env = env | {"DANDELION_POSTGRES__URL": as_api_role(database)}
    if processes is not None:
        api_env["DANDELION_API__WORKERS"] = str(processes)
    with ExitStack() as running:
        for queue in WORKERS:
            running.enter_context(process([*cli, "worker", queue], env))
        running.enter_context(process(api, api_env, f"http://127.0.0.1:{port}/readyz"))
        yield f"http://127.0.0.1:{port}"


async def _ensure_bucket(urls: ServerUrls) -> None:
    settings = S3Settings(
        endpoint_url=urls.s3, bucket=BUCKET, access_key_id=urls.s3_access_key,
        secret_access_key=SecretStr(urls.s3_secret_key),
    )  # fmt: skip
    storage = await S3Storage.connect(settings)
    try:
        await storage.ensure_bucket()
    finally:
        await storage.close()


@dataclass
class Phase:
    """One load phase: its latencies, the pool's waits and the API's database work."""

    result: LoadResult
    waits: dict[str, float] = field(default_factory=dict)
    database: DatabaseWork | None = None

    def per_request(self) -> tuple[float, float, float] | None:
        return self.database.per(self.result.requests) if self.database else None


@dataclass
class Measures:
    mix: Phase
    ceiling: LoadResult | None = None
    alone: dict[str, Phase] = field(default_factory=dict)
    processes: int = 1
    mix_n: LoadResult | None = None  # the mix on `processes` API processes
    ceiling_n: LoadResult | None = None


async def _phase(
    base: str, world: World, workload: Workload, counter: StatementCounter, seconds: float
) -> Phase:
    await counter.reset()
    async with aiohttp.ClientSession(base) as http:
        async with http.get("/bench/pool-waits/") as answer:  # forget the earlier phase's
            await answer.read()
        result = await load(base, world, workload, clients=CLIENTS, seconds=seconds)
        async with http.get("/bench/pool-waits/") as answer:
            waits = await answer.json()
    return Phase(result, waits, await counter.read())


async def measure(urls: ServerUrls, *, full: bool = True) -> Measures:
    """The mix on a freshly seeded stack; with `full`, also the `/api/info/` ceiling, each
    endpoint alone, and the mix again on one API process per core."""
    await _ensure_bucket(urls)
    async with scratch_database(urls.postgres, prefix="bench_load") as database:
        world = await seed(database, CLIENTS)
        counter = await StatementCounter.open(asyncpg_dsn(database))
        try:
            with stack(urls, database) as base:
                if not full:
                    return Measures(await _phase(base, world, mixed, counter, SECONDS))
                ceiling = await load(base, world, info_only, clients=CLIENTS,
                                     seconds=CEILING_SECONDS)  # fmt: skip
                found = Measures(await _phase(base, world, mixed, counter, SECONDS), ceiling)
                for endpoint in ENDPOINTS:
                    found.alone[endpoint] = await _phase(
                        base, world, alone(endpoint), counter, ALONE_SECONDS
                    )
            found.processes = os.cpu_count() or 1
            if found.processes > 1:
                with stack(urls, database, processes=found.processes) as base:
                    found.ceiling_n = await load(base, world, info_only, clients=CLIENTS,
                                                 seconds=CEILING_SECONDS)  # fmt: skip
                    found.mix_n = await load(base, world, mixed, clients=CLIENTS, seconds=SECONDS)
            return found
        finally:
            await counter.close()


def rows(found: Measures) -> list[Row]:
    mix, top = found.mix.result, found.ceiling
    assert top is not None
    shape = f"{CLIENTS} clients for {SECONDS:.0f} s"
    answered = 100 * (1 - sum(mix.errors.values()) / max(1, mix.requests))
    out = [
        Row(f"load, mix, {shape}, 1 API process: throughput", mix.throughput, top.throughput,
            "GET /api/info/, same clients (target 0.5)", "req/s"),
        Row(f"load: answered without error ({mix.requests:,} requests)", answered, 100.0,
            "target", "%"),
    ]  # fmt: skip
    for endpoint in sorted(mix.latencies):
        p50, p99 = mix.percentiles(endpoint)
        out.append(
            Row(f"load: {endpoint} p99 under the mix (p50 {p50:.0f} ms)", p99, 2 * p50,
                "2 x its p50 (target)", "ms", higher_is_better=False)
        )  # fmt: skip
    waits = found.mix.waits
    if waits.get("checkouts"):
        out.append(
            Row(f"load: pool wait p99 under the mix (p50 {waits['p50_ms']:.0f} ms, "
                f"{100 * waits['waited_share']:.0f} % queued for a turn)", waits["p99_ms"],
                max(p99 for p50, p99 in map(mix.percentiles, mix.latencies)),
                "the slowest endpoint's p99", "ms", higher_is_better=False)
        )  # fmt: skip
    if found.mix_n is not None and found.ceiling_n is not None:
        n = found.processes
        out += [
            Row(f"load, mix, {n} API processes (one per core): throughput",
                found.mix_n.throughput, mix.throughput, "the mix on 1 API process", "req/s"),
            Row(f"load, {n} API processes: /api/info/ ceiling", found.ceiling_n.throughput,
                top.throughput, "/api/info/ on 1 API process", "req/s"),
        ]  # fmt: skip
    return out


def _work_cells(phase: Phase) -> list[str]:
    work = phase.per_request()
    if work is None:
        return ["-"] * 3
    statements, control, exec_ms = work
    return [f"{statements:.1f}", f"{control:.1f}", f"{exec_ms:.2f}"]


def endpoint_table(found: Measures) -> str:
    """Per endpoint: alone (req/s, statements, PostgreSQL ms per request) and under the mix."""
    source = "pg_stat_statements" if found.mix.database else "n/a: pg_stat_statements not loaded"
    header = ("endpoint", "alone req/s", "SQL/req", "txn ctl/req", "PG ms/req", "mix p50 ms",
              "mix p99 ms", "p99/p50")  # fmt: skip
    lines = []
    for endpoint in ENDPOINTS:
        phase = found.alone.get(endpoint)
        if endpoint not in found.mix.result.latencies or phase is None:
            continue
        p50, p99 = found.mix.result.percentiles(endpoint)
        work = phase.per_request()
        sql = (
            [f"{v:.1f}" if i < 2 else f"{v:.2f}" for i, v in enumerate(work)] if work else ["-"] * 3
        )
        lines.append((endpoint, f"{phase.result.throughput:.0f}", *sql, f"{p50:.0f}",
                      f"{p99:.0f}", f"{p99 / p50:.1f}"))  # fmt: skip
    mix_sql = _work_cells(found.mix)
    lines.append(("the mix", f"{found.mix.result.throughput:.0f}", *mix_sql, "", "", ""))
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=False)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    out = [fmt.format(*header), *(fmt.format(*line) for line in lines)]
    out.append(f"{CLIENTS} clients; alone: {ALONE_SECONDS:.0f} s each; SQL from {source}")
    out.append("(the API's role only; txn ctl: BEGIN/COMMIT/ROLLBACK, the pre-ping's included).")
    return "\n".join(out)


async def run(urls: ServerUrls) -> list[Row]:
    found = await measure(urls)
    print(json.dumps(found.mix.result.summary()), file=sys.stderr)
    print(endpoint_table(found), file=sys.stderr)
    return rows(found)


def main() -> None:
    with ephemeral_servers() as urls:
        if "--summary" in sys.argv:
            found = asyncio.run(measure(urls, full=False))
            print(json.dumps(found.mix.result.summary()))
        else:
            found = asyncio.run(measure(urls))
            print(render(rows(found)))
            print(endpoint_table(found))


if __name__ == "__main__":
    main()
