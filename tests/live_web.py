"""Serving the web app, the API and the search API over HTTP in the test's event loop, for
a real browser (tests/web/browser) and the web bench.

Each app is served by uvicorn on a socket bound before any app is built, so each knows the
others' addresses. All three work on the test's one database connection, which runs one
statement at a time while a browser and the web app send requests at once: the two APIs
take turns through one lock (`Serialized`), as the httpx tests' transport does.

Pages a browser opens are watched (`Watch`): any request to a host other than these local
servers is aborted and recorded (a page must not depend on a CDN or hand its visitors to a
third party), and so are console errors (a Content-Security-Policy violation is one) and
sub-resources answering an error status.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Response, Route

from dandelion_api.resources import ApiResources
from dandelion_common.settings import Settings
from dandelion_search.api.resources import SearchResources
from dandelion_web.client import ArchiveClient
from dandelion_web.resources import WebResources

HOST = "127.0.0.1"
LOCAL_HOSTS = {HOST, "localhost"}
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_executable() -> str:
    """Debian's headless Chromium; skip without it, fail without it when CI=true."""
    for name in ("chromium-headless-shell", "chromium"):
        path = shutil.which(name)
        if path:
            return path
    message = "no Chromium: apt-get install chromium-headless-shell (.ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


class Serialized:
    """An ASGI app that runs one HTTP request at a time among all apps sharing `lock`."""

    def __init__(self, app: Any, lock: asyncio.Lock) -> None:
        self.app = app
        self.lock = lock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self.lock:
            await self.app(scope, receive, send)


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


async def _serve(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    return server, task


@dataclass
class LiveArchive:
    """The three origins a browser meets, and the settings the apps were built with."""

    settings: Settings
    web_url: str
    api_url: str
    search_url: str


def live_settings(settings: Settings, urls: dict[str, str]) -> Settings:
    web = {"api_url": urls["api"], "search_url": urls["search"]}
    return settings.model_copy(
        update={
            "instance": settings.instance.model_copy(update={"web_url": urls["web"]}),
            "api": settings.api.model_copy(update={"public_url": urls["api"]}),
            "web": settings.web.model_copy(update=web),
        }
    )


@asynccontextmanager
async def live_archive(
    settings: Settings, resources: ApiResources, search_resources: SearchResources
) -> AsyncIterator[LiveArchive]:
    """The three apps served on local ports, on the given resources' database."""
    from dandelion_api.app import create_app as create_api
    from dandelion_search.app import create_app as create_search
    from dandelion_web.app import create_app as create_web

    sockets = {name: _bound_socket() for name in ("api", "search", "web")}
    urls = {name: f"http://{HOST}:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    live = live_settings(settings, urls)
    api = create_api(live)
    api.state.resources = ApiResources(
        settings=live, db=resources.db, queue=resources.queue, storage=resources.storage
    )
    search = create_search(live)
    search.state.resources = SearchResources(
        settings=live, db=search_resources.db, search=search_resources.search
    )
    web = create_web(live)
    web.state.resources = WebResources(settings=live, archive=ArchiveClient.open(live.web))
    lock = asyncio.Lock()
    apps = {"api": Serialized(api, lock), "search": Serialized(search, lock), "web": web}
    running = [await _serve(apps[name], sock) for name, sock in sockets.items()]
    try:
        yield LiveArchive(live, urls["web"], urls["api"], urls["search"])
    finally:
        for server, _ in running:
            server.should_exit = True
        await asyncio.gather(*(task for _, task in running))
        await web.state.resources.close()


@dataclass
class Watch:
    """What pages did that no test allows: other hosts, console errors, failed resources."""

    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert not self.foreign, f"pages requested other hosts: {self.foreign}"
        assert not self.errors, f"errors in pages: {self.errors}"

    async def route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            self.foreign.append(route.request.url)
            await route.abort()

    def console(self, message: ConsoleMessage) -> None:
        # A document's own error status is the test's to check (a 404 page is meant to be
        # one), and Chromium logs it as a console error; sub-resources are checked below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} for {response.url}")


async def watched_context(browser: Browser, watch: Watch, **options: Any) -> BrowserContext:
    context = await browser.new_context(accept_downloads=True, **options)
    await context.route("**/*", watch.route)
    context.on("console", watch.console)
    context.on("response", watch.response)
    return context


_AXE = Axe()


async def assert_accessible(page: Page) -> None:
    """axe-core's WCAG 2.1 A and AA rules find nothing on the page as it is now."""
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
    results = await _AXE.run(page, options=options)
    assert results.violations_count == 0, results.generate_report()
