"""Pipeline rows: what one request costs in the API's own pipeline (middleware, routing,
dependencies, the commit point), measured on `GET /api/info/`, a document rendered once.

The servers answer the same JSON bytes on the same uvicorn settings (1 worker, httptools,
uvloop, no access log), each in its own process, all up at once:

- the API itself (`dandelion api`, as `make run` starts it, logs at WARNING);
- a bare ASGI app (`bench.peer_app:app`): uvicorn's own cost, the reference;
- a one-route FastAPI app (`bench.peer_app:fastapi_app`): the framework's floor, so a reader
  sees how much of the gap is ours and how much FastAPI's;
- with BENCH_BASELINE=<another checkout>, that checkout's API too (before/after, same run).

The same closed-loop client (CONCURRENCY keep-alive sockets, each sending the next GET when
the previous answer is read whole) drives each server for LOAD_SECONDS, in turns, ROUNDS
times; each server's figures are its rounds' means, so a slow moment of the machine is shared
by all. The client shares the machine's two cores with the server, so the bare app's figure
moves with the machine's load (18-35 k req/s); compare ratios of one run, not figures.

Where the time went: the app called in-process on `/api/info/` (no uvicorn, no client; wall
time on a loaded machine, CPU time where marked), and one run of this module with
BENCH_BASELINE=/work/main, the API's throughput as a fraction of the bare app's:

| step | us/request in-process | ours / bare (run 1, run 2) |
|---|---|---|
| main at 9e404c9 | 470 | 0.07, 0.06 (1,227, 1,617 req/s) |
| (1) | 320, 180 CPU | |
| (2) | 150 CPU | |
| (3) | 145 CPU | 0.20, 0.16 (3,543, 4,072 req/s) |
| for scale: the one-route FastAPI app | 55 CPU | 0.36, 0.28 |

(1) every dependency `async`: a plain `def` ran in the thread pool, ~190 us each (two here,
four on an asset list); and no session opened for a request that uses none. (2) the context
routers included in the app, not under one `/api` router: FastAPI re-matches every level of
nesting, walking each sub-router. (3) the document read by its handler, not as a dependency
(~15 us each); the input check skipped without query string or body; each metric series
looked up once.

No middleware was a `BaseHTTPMiddleware` (all are pure ASGI already). What remains is
FastAPI's: in this FastAPI (0.165) a route with no dependency costs ~55 us of CPU, each
dependency ~15 us more, and included routers are re-matched at every level; the
one-route FastAPI app itself reaches only 0.24-0.36 of the bare app, so the issue's 0.4
cannot be reached by any request that goes through FastAPI's routing and dependency solving.

`python -m bench.bench_pipeline` prints these rows alone.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx

from bench.bench_foundation import process, service_env
from bench.table import Row, render
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.devstack.process import free_port

# Another checkout of the project (with its own `make install`), served as a fourth server:
# before and after in the same run, e.g. BENCH_BASELINE=/work/main.
BASELINE = os.environ.get("BENCH_BASELINE")
LOAD_SECONDS = 3.0
ROUNDS = 3
CONCURRENCY = 16
HOST = "127.0.0.1"
INFO = "/api/info/"


@dataclass
class Load:
    """One server's figures over its rounds."""

    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.fmean(self.rates)

    def percentile_ms(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000


async def closed_loop(port: int, path: str, load: Load) -> None:
    """Closed-loop load over raw keep-alive sockets (cheap enough not to be the bottleneck)."""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    done = 0
    deadline = time.monotonic() + LOAD_SECONDS

    async def connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while (start := time.monotonic()) < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head[:80]
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                load.latencies.append(time.monotonic() - start)
                done += 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    load.rates.append(done / LOAD_SECONDS)


def uvicorn_argv(app: str, port: int) -> list[str]:
    # `dandelion api` runs uvicorn with proxy headers and its default loop and parser.
    options = ["--log-level", "warning", "--no-access-log", "--proxy-headers"]
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), *options]


def api_argv(checkout: str | None = None) -> list[str]:
    python = f"{checkout}/.venv/bin/python" if checkout else sys.executable
    return [python, "-m", "dandelion_common.cli", "api"]


@contextmanager
def servers(urls: ServerUrls) -> Iterator[dict[str, tuple[int, str]]]:
    """The servers, up: name -> (port, path)."""
    env = service_env(urls)
    apis = {"api": api_argv()} | ({"baseline": api_argv(BASELINE)} if BASELINE else {})
    targets: dict[str, tuple[int, str]] = {}
    with ExitStack() as stack:
        for name, argv in apis.items():
            port = free_port()
            ready = f"http://{HOST}:{port}/healthz"
            stack.enter_context(process(argv, env | {"DANDELION_API__PORT": str(port)}, ready))
            targets[name] = (port, INFO)
        body = httpx.get(f"http://{HOST}:{targets['api'][0]}{INFO}").text
        for name, app in (
            ("bare", "bench.peer_app:app"),
            ("fastapi", "bench.peer_app:fastapi_app"),
        ):
            port = free_port()
            ready = f"http://{HOST}:{port}/"
            stack.enter_context(process(uvicorn_argv(app, port), env | {"PEER_BODY": body}, ready))
            targets[name] = (port, "/")
        yield targets


async def measure(urls: ServerUrls) -> dict[str, Load]:
    loads: dict[str, Load] = {}
    with servers(urls) as targets:
        for _ in range(ROUNDS):
            for name, (port, path) in targets.items():
                await closed_loop(port, path, loads.setdefault(name, Load()))
    return loads


def rows(loads: dict[str, Load]) -> list[Row]:
    api, bare, floor = loads["api"], loads["bare"], loads["fastapi"]
    same = "bare ASGI app, same JSON, same uvicorn"
    out = [Row(f"GET {INFO} throughput", api.rate, bare.rate, same, "req/s")]
    for q in (50, 99):
        out.append(
            Row(f"GET {INFO} p{q} ({CONCURRENCY} clients)", api.percentile_ms(q),
                bare.percentile_ms(q), same, "ms", higher_is_better=False)
        )  # fmt: skip
    out.append(
        Row(f"GET {INFO} throughput", api.rate, floor.rate, "one-route FastAPI app", "req/s")
    )
    out.append(Row("one-route FastAPI app throughput", floor.rate, bare.rate, same, "req/s"))
    if baseline := loads.get("baseline"):
        name = f"GET {INFO} throughput of {BASELINE}"
        out.append(Row(name, baseline.rate, bare.rate, same, "req/s"))
    return out


async def run(urls: ServerUrls) -> list[Row]:
    return rows(await measure(urls))


def main() -> None:
    with ephemeral_servers() as urls:
        print(render(asyncio.run(run(urls))))


if __name__ == "__main__":
    main()
