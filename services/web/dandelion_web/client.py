"""The web service's only source of archive data: the API and the search API, over HTTP.

One keep-alive `httpx.AsyncClient` per process (built in the lifespan) serves every page;
a page that needs several documents asks for them at once (`gather`). Authorization stays
in the API: the web forwards the visitor's credentials, if any, and shows what it is told.

The API's answers map to one small error family, so that a page never turns a client mistake
into a 500: 404 and 410 become those pages, 400 a readable page naming the problem, and an
API that cannot be reached (or answers 5xx) a 502/504 page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import httpx

from dandelion_common.settings import WebSettings

T = TypeVar("T")

Params = Mapping[str, str | int | bool | list[str] | None]


class UpstreamError(Exception):
    """The API answered with an error, or could not be reached."""

    status_code = 502

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class UpstreamNotFound(UpstreamError):
    status_code = 404


class UpstreamGone(UpstreamError):
    status_code = 410


class UpstreamRefused(UpstreamError):
    """A 4xx other than 404/410: the visitor's request, as passed on, was not acceptable."""

    status_code = 400


class UpstreamUnavailable(UpstreamError):
    """The API could not be reached in time, or answered 5xx."""

    status_code = 502


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:300]
    if isinstance(body, dict) and len(body) == 1:
        # DRF's field error, e.g. a bad `?search=`: {"search": "message"} or {"f": ["m"]}.
        ((field, problem),) = body.items()
        text = problem[0] if isinstance(problem, list) and problem else problem
        return f"{field}: {text}"[:300]
    return str(body)[:300]


def _raise_for(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = _detail(response)
    if status == 404:
        raise UpstreamNotFound(message)
    if status == 410:
        raise UpstreamGone(message)
    if status in (401, 403):
        raise UpstreamRefused(message, status_code=status)
    if status < 500:
        raise UpstreamRefused(message, status_code=400 if status == 422 else status)
    raise UpstreamUnavailable(f"the archive answered {status}: {message}")


class ArchiveClient:
    """JSON from the API (`api`) and the search API (`search`), with errors mapped."""

    def __init__(self, http: httpx.AsyncClient, settings: WebSettings) -> None:
        self.http = http
        self.api_url = settings.api_url
        self.search_url = settings.search_url

    @classmethod
    def open(cls, settings: WebSettings) -> ArchiveClient:
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        )
        http = httpx.AsyncClient(
            timeout=settings.timeout_seconds, limits=limits, follow_redirects=False
        )
        return cls(http, settings)

    async def close(self) -> None:
        await self.http.aclose()

    async def api(self, path: str, params: Params | None = None) -> Any:
        """GET `{api_url}/api{path}` as JSON (`path` starts with "/")."""
        return await self._get(f"{self.api_url}/api{path}", params)

    async def search(self, path: str, params: Params | None = None) -> Any:
        """GET `{search_url}/api/search{path}` as JSON."""
        return await self._get(f"{self.search_url}/api/search{path}", params)

    async def api_response(self, path: str, params: Params | None = None) -> httpx.Response:
        """The raw answer of `{api_url}/api{path}` (for redirects and non-JSON bodies); an
        error status raises as `api` does."""
        response = await self._send(f"{self.api_url}/api{path}", params)
        _raise_for(response)
        return response

    async def _get(self, url: str, params: Params | None) -> Any:
        response = await self._send(url, params)
        _raise_for(response)
        return response.json()

    async def _send(self, url: str, params: Params | None) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return await self.http.get(url, params=query)
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(
                "the archive did not answer in time", status_code=504
            ) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"the archive cannot be reached ({exc})") from exc


async def gather(*calls: Awaitable[T]) -> list[T]:
    """Run a page's API calls at once; the first failure is raised and the rest cancelled."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(call)) for call in calls]
    except ExceptionGroup as failures:
        # The page shows one error; the first is the one its visitor's request caused.
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def _awaited(call: Awaitable[T]) -> T:
    return await call
