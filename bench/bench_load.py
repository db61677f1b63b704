"""Load rows: a mixed read/write workload of BENCH_LOAD_CLIENTS (200) concurrent clients for
BENCH_LOAD_SECONDS (60 s) against the stack `make run` starts (the API, and the ingest and
search workers unless BENCH_LOAD_WORKERS names fewer) as processes on the throwaway servers.

The scratch database holds one dandiset per client (each with ASSETS assets, owned by that
client's user). Clients are closed loops sharing one HTTP connection pool: each picks a
request at random, 80 % reads (the dandiset list, one dandiset, its versions, its asset list,
a search) and 20 % writes in its own dandiset (a new dandiset, a metadata PUT of its draft, a
new asset on an existing blob), and sends the next when the answer is in.

Rows: throughput against the same clients asking only `GET /api/info/` (what the process
serves at this concurrency when a request costs nothing); p99 per endpoint against 1 s (our
target for an interactive request at peak load); the share of requests answered without an
error (5xx, timeout, connection error) against the issue's 100 %.

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
from bench.scratch import asyncpg_dsn, scratch_database
from bench.table import Row, render
from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.devstack.process import free_port
from dandelion_common.settings import S3Settings
from dandelion_common.storage import S3Storage

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "200"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
# The workers `make run` starts beside the API (their jobs compete with it for the CPU).
WORKERS = [q for q in os.environ.get("BENCH_LOAD_WORKERS", "ingest,search").split(",") if q]
CEILING_SECONDS = 10.0
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
            Call("asset list", "GET", f"/api/dandisets/{some}/versions/draft/assets/"),
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
def stack(urls: ServerUrls, database: str) -> Iterator[str]:
    """The API and the WORKERS on `database`; yields the API's base URL."""
    port = free_port()
    env = service_env(urls) | {
        "DANDELION_POSTGRES__URL": database,
        "DANDELION_S3__BUCKET": BUCKET,
        "DANDELION_API__PORT": str(port),
        "DANDELION_API__PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    cli = [sys.executable, "-m", "dandelion_common.cli"]
    with ExitStack() as processes:
        for queue in WORKERS:
            processes.enter_context(process([*cli, "worker", queue], env))
        processes.enter_context(process([*cli, "api"], env, f"http://127.0.0.1:{port}/readyz"))
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


async def measure(
    urls: ServerUrls, *, clients: int = CLIENTS, seconds: float = SECONDS, ceiling: bool = True
) -> tuple[LoadResult, LoadResult | None]:
    """The mixed load (and, if asked, the `/api/info/` ceiling) on a freshly seeded stack."""
    await _ensure_bucket(urls)
    async with scratch_database(urls.postgres, prefix="bench_load") as database:
        world = await seed(database, clients)
        with stack(urls, database) as base:
            mixed_load = await load(base, world, mixed, clients=clients, seconds=seconds)
            top = None
            if ceiling:
                top = await load(base, world, info_only, clients=clients, seconds=CEILING_SECONDS)
    return mixed_load, top


def rows(mixed_load: LoadResult, top: LoadResult) -> list[Row]:
    shape = f"{CLIENTS} clients for {SECONDS:.0f} s"
    answered = 100 * (1 - sum(mixed_load.errors.values()) / max(1, mixed_load.requests))
    out = [
        Row(f"load, mixed read/write, {shape}: throughput", mixed_load.throughput,
            top.throughput, "GET /api/info/, same clients", "req/s"),
        Row(f"load: answered without error ({mixed_load.requests:,} requests)", answered,
            100.0, "target", "%"),
    ]  # fmt: skip
    for endpoint in sorted(mixed_load.latencies):
        p50, p99 = mixed_load.percentiles(endpoint)
        out.append(
            Row(f"load: {endpoint} p99 (p50 {p50:.0f} ms)", p99, TARGET_P99_MS,
                "target p99 at peak", "ms", higher_is_better=False)
        )  # fmt: skip
    return out


async def run(urls: ServerUrls) -> list[Row]:
    mixed_load, top = await measure(urls)
    assert top is not None
    print(json.dumps(mixed_load.summary()), file=sys.stderr)
    return rows(mixed_load, top)


def main() -> None:
    with ephemeral_servers() as urls:
        if "--summary" in sys.argv:
            mixed_load, _ = asyncio.run(measure(urls, ceiling=False))
            print(json.dumps(mixed_load.summary()))
        else:
            print(render(asyncio.run(run(urls))))


if __name__ == "__main__":
    main()
