"""Fixtures of the web service's tests: the web app over the real API and search API apps.

The web reaches both APIs over HTTP as in production, here through ASGI transports to the
apps running in process on the test's rolled-back transaction (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from dandelion_api.resources import ApiResources
from dandelion_common.settings import Settings
from dandelion_search.api.resources import SearchResources
from dandelion_web.client import ArchiveClient
from dandelion_web.resources import WebResources

API = "http://api.internal"
SEARCH = "http://search.internal"


class SharedConnectionTransport(httpx.AsyncBaseTransport):
    """Routes by host to each app's ASGI transport, one request at a time: both apps use the
    test's single database connection, which runs one statement at a time, while a page sends
    its API calls at once."""

    def __init__(self, routes: dict[str, httpx.ASGITransport]) -> None:
        self.routes = routes
        self.lock = asyncio.Lock()
        self.pending: set[asyncio.Future[httpx.Response]] = set()
        self.paths: list[str] = []  # every path asked, in order (`upstream_paths`)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        app = self.routes.get(request.url.host)
        if app is None:  # as the network answers for a host where nothing listens
            raise httpx.ConnectError(f"nothing serves {request.url.host}", request=request)
        # Shielded: a page's `gather` cancels its other calls when one fails, and cancelling
        # an API request mid-statement would break the test's one connection (a server
        # lets a request whose client left run to its end; so does this).
        task = asyncio.ensure_future(self._serialized(app, request))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        return await asyncio.shield(task)

    async def settle(self) -> None:
        """Wait for requests whose callers were cancelled: before the test's rollback."""
        await asyncio.gather(*self.pending, return_exceptions=True)

    async def _serialized(self, app: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
        async with self.lock:
            response = await app.handle_async_request(request)
            await response.aread()
            return response


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"web": settings.web.model_copy(update={"api_url": API, "search_url": SEARCH})}
    )


@pytest.fixture
def upstream(
    resources: ApiResources, search_resources: SearchResources
) -> SharedConnectionTransport:
    """The web's way to the real API and search API apps."""
    from dandelion_api.app import create_app as create_api
    from dandelion_search.app import create_app as create_search

    api_app = create_api(resources.settings)
    api_app.state.resources = resources
    search_app = create_search(search_resources.settings)
    search_app.state.resources = search_resources
    return SharedConnectionTransport(
        {
            "api.internal": httpx.ASGITransport(app=api_app),
            "search.internal": httpx.ASGITransport(app=search_app),
        }
    )


@pytest.fixture
def upstream_paths(upstream: SharedConnectionTransport) -> list[str]:
    """The API and search API paths the web has asked for so far in this test."""
    return upstream.paths


@pytest.fixture
async def web_client(
    web_settings: Settings, upstream: SharedConnectionTransport
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser's view of the web app, backed by the real API and search API apps."""
    from dandelion_web.app import create_app as create_web

    archive = ArchiveClient(httpx.AsyncClient(transport=upstream), web_settings.web)
    web = create_web(web_settings)
    web.state.resources = WebResources(settings=web_settings, archive=archive)
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://web")
    async with browser, archive.http:
        yield browser
        await upstream.settle()
