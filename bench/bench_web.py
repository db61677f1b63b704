"""Web rows (issue 17's speed bar): each page's server time to first byte beside the API calls
it makes, measured alone, and the landing page's weight.

The archive (`web_seed`): a published dandiset of BENCH_WEB_ASSETS (100,000) assets whose
folder `sub-0000` holds BENCH_WEB_FOLDER_FILES (a tenth of them, 10,000) files, seeded in
SQL, and the search corpus of `bench_search` at BENCH_WEB_SEARCH_ASSETS (20,000) assets in
BENCH_WEB_SEARCH_DANDISETS (200) dandisets, bulk-loaded the same way into the PostgreSQL
search backend's tables of the same scratch database. (The corpus's dandisets exist in the
search tables only; the search page renders them from what the search API answers.)

The API, the search API and the web run as their own processes (`dandelion api`,
`search-api`, `web`), one worker each, as they are deployed.

What a page asks the APIs is learnt, not written down here: the web app is built once per
page in this process (`create_app`), its `ArchiveClient` on an httpx client whose request
hook records every URL, and the page is requested through `httpx.ASGITransport`; the
recorded calls go to the API processes, so they are the calls the web process makes.

Then, BENCH_WEB_REQUESTS (200) times after 10 warm-ups, over one keep-alive connection to
the web process: the page's time to first byte (until the response head is in; the web
renders the whole page before it sends the head, gzip included, as a browser asks for it),
and, alternating with it, the page's recorded API calls replayed all at once (asyncio.gather
over a keep-alive client pool like the web's, until every body is in). The replay is a
lower bound of what the page waits for: calls a page makes one after another (a listing,
then one call per file on it) are sent together here, so the ratio of the two is
conservative: it charges the web layer for its own sequencing as well as for rendering.

Rows, per page: p50 beside the API calls' p50 (the ratio is the web layer's own share) and
p95 against 1.5x the API calls' p95 (the target); for the landing page also p95 against
150 ms and its weight: the HTML and every stylesheet, script, image and icon it references
(and what the stylesheets import), fetched with Accept-Encoding: gzip, counted as bytes on
the wire (head and body), against 100 KB. A page the web does not route yet is a row marked
MISSING with no number; one that answers other than 200 is marked FAILED.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import asyncpg
import httpx
from fastapi import FastAPI
from starlette.routing import Match

from bench import web_seed
from bench.bench_foundation import process, service_env
from bench.bench_search import Engines, Scale, load
from bench.scratch import asyncpg_dsn, scratch_database
from bench.search_corpus import Corpus
from bench.table import Row, render
from dandelion_common.db.session import Database
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.devstack.process import answers_ok, free_port, wait_until
from dandelion_common.settings import (
    ApiSettings,
    InstanceSettings,
    PostgresSettings,
    Settings,
    WebSettings,
)
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_web.app import create_app
from dandelion_web.client import ArchiveClient
from dandelion_web.resources import WebResources

ASSETS = int(os.environ.get("BENCH_WEB_ASSETS", "100000"))
FOLDER_FILES = int(os.environ.get("BENCH_WEB_FOLDER_FILES", str(ASSETS // 10)))
SEARCH_ASSETS = int(os.environ.get("BENCH_WEB_SEARCH_ASSETS", "20000"))
SEARCH_DANDISETS = int(os.environ.get("BENCH_WEB_SEARCH_DANDISETS", "200"))
REQUESTS = int(os.environ.get("BENCH_WEB_REQUESTS", "200"))
WARM_UP = 10
RATIO_TARGET = 1.5
LANDING_TARGET_MS = 150.0
LANDING_TARGET_KB = 100.0
HOST = "127.0.0.1"
RATIO_NAME = "target: 1.5x API calls' p95"


def log(message: str) -> None:
    print(f"bench_web: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Page:
    name: str
    url: str  # path and query on the web origin
    landing: bool = False


def pages() -> list[Page]:
    """Issue 17's three pages, and the home page and the dandiset list (there before them)."""
    base = f"/dandiset/{web_seed.IDENTIFIER}/{web_seed.VERSION}"
    query = "q=cortex&species=Mus+musculus&approach=electrophysiological+approach"
    return [
        Page("home page", "/"),
        Page("dandiset list", "/dandiset/"),
        Page(f"landing page ({ASSETS:,} assets)", base, landing=True),
        Page(f"file browser ({FOLDER_FILES:,}-file folder)", f"{base}/files?location=sub-0000"),
        Page(
            f"search, text + 2 facets ({SEARCH_ASSETS:,} assets, {SEARCH_DANDISETS:,} dandisets)",
            f"/search?{query}",
        ),
    ]


# --- the processes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Servers:
    api: str
    search: str
    web: str
    web_port: int


def choose_ports() -> Servers:
    api, search, web = free_port(), free_port(), free_port()
    return Servers(f"http://{HOST}:{api}", f"http://{HOST}:{search}", f"http://{HOST}:{web}", web)


@contextmanager
def services(urls: ServerUrls, database: str, servers: Servers) -> Iterator[Callable[[], None]]:
    """The API, the search API (PostgreSQL backend) and the web, one process each, started
    at once; the context gives the wait for their readiness (they start while data loads)."""
    env = service_env(urls) | {
        "DANDELION_POSTGRES__URL": database,
        "DANDELION_API__PORT": str(urlsplit(servers.api).port),
        "DANDELION_API__PUBLIC_URL": servers.api,
        "DANDELION_SEARCH_API__PORT": str(urlsplit(servers.search).port),
        "DANDELION_WEB__PORT": str(servers.web_port),
        "DANDELION_WEB__API_URL": servers.api,
        "DANDELION_WEB__SEARCH_URL": servers.search,
        "DANDELION_INSTANCE__WEB_URL": servers.web,
    }
    env.pop("DANDELION_OPENSEARCH__URL", None)  # the PostgreSQL search backend
    cli = [sys.executable, "-m", "dandelion_common.cli"]
    probes = [f"{servers.api}/healthz", f"{servers.search}/healthz", f"{servers.web}/readyz"]

    def ready() -> None:
        for url in probes:
            wait_until(functools.partial(answers_ok, url), timeout=120, what=url)

    with ExitStack() as stack:
        for command in ("api", "search-api", "web"):
            stack.enter_context(process([*cli, command], env))
        yield ready


def settings_for(urls: ServerUrls, database: str, servers: Servers) -> Settings:
    """The web process's settings, for the copy of the app that learns the API calls."""
    return urls.settings().model_copy(
        update={
            "postgres": PostgresSettings(url=database, pool_size=2),
            "api": ApiSettings(public_url=servers.api),
            "web": WebSettings(api_url=servers.api, search_url=servers.search),
            "instance": InstanceSettings(web_url=servers.web),
        }
    )


# --- learning a page's API calls ------------------------------------------------------------


def routed(app: FastAPI, path: str) -> bool:
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


async def learn(settings: Settings, page: Page) -> list[str] | str:
    """The URLs the page requests from the APIs, or why there is no page to measure."""
    path = urlsplit(page.url).path
    app = create_app(settings)
    if not routed(app, path):
        return f"MISSING: the web has no route for {path} on this branch"
    calls: list[str] = []

    async def record(request: httpx.Request) -> None:
        calls.append(str(request.url))

    http = httpx.AsyncClient(event_hooks={"request": [record]}, timeout=60)
    app.state.resources = WebResources(settings, ArchiveClient(http, settings.web))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            response = await client.get(page.url)
    finally:
        await http.aclose()
    if response.status_code != 200:
        return f"FAILED: {page.url} answered {response.status_code}: {response.text[:120]!r}"
    return calls


# --- HTTP/1.1 over one keep-alive socket -----------------------------------------------------


@dataclass(frozen=True)
class Answer:
    ttfb_ms: float
    status: int
    headers: dict[str, str]
    body: bytes  # as sent (compressed, if it was), transfer encoding removed
    wire: int  # bytes received: head and body

    def text(self) -> str:
        gzipped = self.headers.get("content-encoding") == "gzip"
        return (gzip.decompress(self.body) if gzipped else self.body).decode()


class Connection:
    """A browser's keep-alive connection, timed from the request to the response head."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection(HOST, port))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()

    async def get(self, target: str) -> Answer:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/html,*/*\r\n"
            "Accept-Encoding: gzip\r\n\r\n"
        )
        start = time.perf_counter()
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        ttfb = (time.perf_counter() - start) * 1000
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in filter(None, lines):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body, wire = await self._body(headers)
        return Answer(ttfb, int(status_line.split()[1]), headers, body, len(head) + wire)

    async def _body(self, headers: dict[str, str]) -> tuple[bytes, int]:
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
            return body, len(body)
        assert headers.get("transfer-encoding") == "chunked", headers
        body, wire = b"", 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            body, wire = body + chunk[:-2], wire + len(line) + len(chunk)
            if size == 0:
                return body, wire  # no trailers: our servers send none


# --- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timings:
    web: list[float]  # ms to the page's first byte
    api: list[float]  # ms for its API calls, all at once

    @staticmethod
    def p(values: list[float], q: int) -> float:
        return statistics.median(values) if q == 50 else statistics.quantiles(values, n=100)[q - 1]


async def replay(http: httpx.AsyncClient, calls: list[str]) -> float:
    async def one(url: str) -> None:
        response = await http.get(url)
        assert response.status_code == 200, (url, response.status_code)

    start = time.perf_counter()
    await asyncio.gather(*(one(url) for url in calls))
    return (time.perf_counter() - start) * 1000


async def measure(settings: Settings, servers: Servers, page: Page, calls: list[str]) -> Timings:
    """The page and its calls alone, alternately, so a drift of the machine hits both."""
    connection = await Connection.open(servers.web_port)
    archive = ArchiveClient.open(settings.web)  # the web's own pool: same limits, keep-alive
    web, api = [], []
    try:
        for n in range(WARM_UP + REQUESTS):
            answer = await connection.get(page.url)
            assert answer.status == 200, (page.url, answer.status, answer.body[:200])
            spent = await replay(archive.http, calls)
            if n >= WARM_UP:
                web.append(answer.ttfb_ms)
                api.append(spent)
    finally:
        await archive.close()
        await connection.close()
    return Timings(web, api)


async def profile(settings: Settings, calls: list[str], runs: int = 10) -> str:
    """Each call's p50 alone and the size of its answer, slowest first: where a slow page's
    time goes, and a check that it shows something (for the log)."""
    archive = ArchiveClient.open(settings.web)
    try:
        found = []
        for url in calls:
            alone = [await replay(archive.http, [url]) for _ in range(runs)]
            size = len((await archive.http.get(url)).content)
            found.append((statistics.median(alone), size, url))
    finally:
        await archive.close()
    return ", ".join(f"{url} {p50:.1f} ms {size:,} B" for p50, size, url in sorted(found)[::-1])


class References(HTMLParser):
    """What a browser fetches to show the page: stylesheets, scripts, images, icons."""

    FETCHED = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "apple-touch-icon"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.icon = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        rel = set(a.get("rel", "").lower().split())
        if tag == "link" and self.FETCHED & rel:
            self.urls.append(a.get("href", ""))
            self.icon = self.icon or "icon" in rel
        elif tag in ("script", "img", "source", "iframe", "embed") and a.get("src"):
            self.urls.append(a["src"])
        if a.get("srcset"):
            self.urls += [part.split()[0] for part in a["srcset"].split(",") if part.strip()]


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


async def weight(servers: Servers, url: str) -> tuple[int, list[str], list[str]]:
    """Bytes on the wire of the page and everything it references (gzip accepted), the names
    of those files, and the references to other origins (which a CSP of 'self' forbids). With
    no icon declared, /favicon.ico counts too: a browser asks for it."""
    connection = await Connection.open(servers.web_port)
    try:
        answer = await connection.get(url)
        total, files, foreign = answer.wire, [], []
        parser = References()
        parser.feed(answer.text())
        pending = [urljoin(servers.web + url, ref) for ref in parser.urls]
        if not parser.icon:  # a browser asks for one anyway; its answer is sent, 404 or not
            pending.append(urljoin(servers.web, "/favicon.ico"))
        seen = set()
        while pending:
            ref = pending.pop(0)
            parts = urlsplit(ref)
            if parts.scheme == "data" or ref in seen:
                continue
            seen.add(ref)
            if parts.netloc != urlsplit(servers.web).netloc:
                foreign.append(ref)
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            got = await connection.get(target)
            assert got.status == 200 or parts.path == "/favicon.ico", (ref, got.status)
            total = total + got.wire
            files.append(
                parts.path.rsplit("/", 1)[-1] + ("" if got.status == 200 else f" ({got.status})")
            )
            if "text/css" in got.headers.get("content-type", ""):
                found = (m.group(1) or m.group(2) for m in CSS_URL.finditer(got.text()))
                pending += [urljoin(ref, f) for f in found]
        return total, files, foreign
    finally:
        await connection.close()


# --- rows ----------------------------------------------------------------------------------


def ms(name: str, ours: float, reference: float, reference_name: str) -> Row:
    return Row(name, ours, reference, reference_name, "ms", higher_is_better=False)


def missing_rows(page: Page, why: str) -> list[Row]:
    """The page's rows with no number: `why` says what is not there."""
    rows = [ms(f"web {page.name}: TTFB p95: {why}", math.nan, math.nan, RATIO_NAME)]
    if page.landing:
        rows += [
            ms(f"web {page.name}: TTFB p95: {why}", math.nan, LANDING_TARGET_MS, "target p95"),
            Row(f"web {page.name}: bytes, gzip, everything: {why}", math.nan,
                LANDING_TARGET_KB, "target", "KB", higher_is_better=False),
        ]  # fmt: skip
    return rows


def page_rows(page: Page, calls: list[str], t: Timings) -> list[Row]:
    p50, p95 = Timings.p(t.web, 50), Timings.p(t.web, 95)
    api50, api95 = Timings.p(t.api, 50), Timings.p(t.api, 95)
    alone = f"its {len(calls)} API call{'s' if len(calls) != 1 else ''} alone"
    name = f"web {page.name}: TTFB"
    rows = [
        ms(f"{name} p50 beside {alone}", p50, api50, "API calls alone, p50"),
        ms(f"{name} p95 ({alone}: p95 {api95:.1f} ms)", p95, RATIO_TARGET * api95, RATIO_NAME),
    ]
    if page.landing:
        rows.append(ms(f"{name} p95 (p50 {p50:.1f} ms)", p95, LANDING_TARGET_MS, "target p95"))
    return rows


async def weight_row(servers: Servers, page: Page) -> Row:
    total, files, foreign = await weight(servers, page.url)
    elsewhere = f"; {len(foreign)} references to other origins not counted" if foreign else ""
    name = f"web {page.name}: bytes on the wire, gzip, HTML + {', '.join(files)}{elsewhere}"
    return Row(name, total / 1000, LANDING_TARGET_KB, "target", "KB", higher_is_better=False)


# --- the run -------------------------------------------------------------------------------


async def load_search_corpus(database: str) -> None:
    """`bench_search`'s corpus in the PostgreSQL search tables, by its bulk path."""
    scale = Scale(assets=SEARCH_ASSETS, dandisets=SEARCH_DANDISETS, sample=0, runs=0, probes=0)
    db = Database.connect(PostgresSettings(url=database, pool_size=1), application_name="bench")
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        engines = Engines(database, db, conn, PostgresSearchBackend(db), None)
        await load(engines, Corpus(assets=scale.assets, dandisets=scale.dandisets), scale)
    finally:
        await conn.close()
        await db.dispose()


async def seeded(database: str, servers: Servers) -> None:
    started = time.monotonic()
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        await web_seed.seed(conn, assets=ASSETS, folder_files=FOLDER_FILES, web_url=servers.web)
    finally:
        await conn.close()
    log(f"seeded a published dandiset of {ASSETS:,} assets in {time.monotonic() - started:.0f}s")
    started = time.monotonic()
    await load_search_corpus(database)
    log(f"loaded {SEARCH_ASSETS:,} search assets in {time.monotonic() - started:.0f}s")


async def page_results(settings: Settings, servers: Servers, page: Page) -> list[Row]:
    learned = await learn(settings, page)
    if isinstance(learned, str):
        log(f"{page.name}: {learned}")
        return missing_rows(page, learned)
    log(f"{page.name} ({page.url}) asks, each alone (p50): {await profile(settings, learned)}")
    rows = page_rows(page, learned, await measure(settings, servers, page, learned))
    if page.landing:
        rows.append(await weight_row(servers, page))
    return rows


async def run(urls: ServerUrls) -> list[Row]:
    servers = choose_ports()
    async with scratch_database(urls.postgres, prefix="bench_web") as database:
        settings = settings_for(urls, database, servers)
        rows = []
        with services(urls, database, servers) as ready:
            await seeded(database, servers)
            await asyncio.to_thread(ready)
            for page in pages():
                started = time.monotonic()
                rows += await page_results(settings, servers, page)
                log(f"{page.name} measured in {time.monotonic() - started:.0f}s")
    return rows


def main() -> None:
    with ephemeral_servers() as urls:
        print(render(asyncio.run(run(urls))))


if __name__ == "__main__":
    main()
