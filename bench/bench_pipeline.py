"""Pipeline rows: what one request costs in the API's own pipeline (middleware, routing,
dependencies, the commit point), measured on `GET /api/info/`, a document rendered once.

Three servers answer the same JSON bytes on the same uvicorn settings (1 worker, httptools,
uvloop, no access log), each in its own process, all up at once:

- the API itself (`dandelion api`, as `make run` starts it, logs at WARNING);
- a bare ASGI app (`bench.peer_app`): uvicorn's own cost, the reference;
- a one-route FastAPI app (`bench.peer_app:fastapi_app`): the framework's floor, so a reader
  sees how much of the gap is ours and how much FastAPI's.

The same closed-loop client (CONCURRENCY keep-alive sockets, each sending the next GET when
the previous answer is read whole) drives each server for LOAD_SECONDS, in turns, ROUNDS
times; each server's figures are its rounds' means, so a slow moment of the machine is shared
by all. Rows: throughput, p50 and p99 of the API against the bare app; throughput of the API
against the FastAPI floor.

Measured on the 2-core development machine (client and server share it), ours / bare app:

| commit | req/s ours / bare | p50 | note |
|---|---|---|---|
| before (main at 9e404c9) | 1,160-1,290 / 32-35 k = 0.04 | | |

`python -m bench.bench_pipeline` prints these rows alone.
"""

from __future__ import annotations

import asyncio
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


@contextmanager
def servers(urls: ServerUrls) -> Iterator[dict[str, tuple[int, str]]]:
    """The three servers, up: name -> (port, path)."""
    env = service_env(urls)
    api_port, bare_port, fastapi_port = free_port(), free_port(), free_port()
    with ExitStack() as stack:
        stack.enter_context(
            process(
                [sys.executable, "-m", "dandelion_common.cli", "api"],
                env | {"DANDELION_API__PORT": str(api_port)},
                f"http://{HOST}:{api_port}/healthz",
            )
        )
        body = httpx.get(f"http://{HOST}:{api_port}{INFO}").text
        for app, port in (
            ("bench.peer_app:app", bare_port),
            ("bench.peer_app:fastapi_app", fastapi_port),
        ):
            stack.enter_context(
                process(
                    uvicorn_argv(app, port), env | {"PEER_BODY": body}, f"http://{HOST}:{port}/"
                )
            )
        yield {"api": (api_port, INFO), "bare": (bare_port, "/"), "fastapi": (fastapi_port, "/")}


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
    return out


async def run(urls: ServerUrls) -> list[Row]:
    return rows(await measure(urls))


def main() -> None:
    with ephemeral_servers() as urls:
        print(render(asyncio.run(run(urls))))


if __name__ == "__main__":
    main()
