"""The API app's own routes: DANDI's documentation addresses lead to ours; no part of a
request runs in the thread pool."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from dandelion_api.app import create_app


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("/api/docs/swagger/", "/api/docs/"),  # DANDI's Swagger UI
        ("/swagger/", "/api/docs/"),  # DANDI's old addresses, redirected there too
        ("/redoc/", "/api/docs/redoc/"),
    ],
)
async def test_dandis_docs_addresses_lead_to_ours(
    api_client: httpx.AsyncClient, alias: str, target: str
) -> None:
    for method in ("GET", "HEAD"):
        response = await api_client.request(method, alias)
        assert (response.status_code, response.headers["location"]) == (301, target)
    page = await api_client.get(alias, follow_redirects=True)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/docs/openapi.json" in page.text


# The one plain `def` on purpose: the first build of a JSON Schema is CPU-bound.
THREADED = {"get_schema"}


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from api_routes(included.routes)


def test_no_dependency_or_handler_runs_in_the_thread_pool() -> None:
    """FastAPI runs a plain `def` in its thread pool: 100-200 µs of hand-offs per request for
    each one, more than the whole of an `/api/info/` answer."""
    app = create_app()
    routes = list(api_routes(app.routes))
    assert len(routes) > 50
    threaded = {
        call.__name__
        for route in routes
        for call in calls(route.dependant)
        if not inspect.iscoroutinefunction(call) and not inspect.isasyncgenfunction(call)
    }
    assert threaded == THREADED
