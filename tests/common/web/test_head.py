"""HEAD on the project's routes: a GET route answers it as GET does, with no body, and the
OpenAPI document names no HEAD operations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from dandelion_common.errors import NotFound
from dandelion_common.web.errors import install_error_handlers
from dandelion_common.web.routing import APIRouter


def build_app() -> FastAPI:
    router = APIRouter(prefix="/things", responses={})

    @router.get("/")
    async def things() -> list[str]:
        return ["a", "b"]

    @router.get("/{name}/")
    async def thing(name: str) -> dict[str, str]:
        if name == "missing":
            raise NotFound()
        return {"name": name}

    @router.post("/{name}/star/")
    async def star(name: str) -> None:
        return None

    # A HEAD of its own (registered first, decorated below the GET) answers HEAD instead.
    @router.get("/{name}/probe/")
    @router.head("/{name}/probe/", include_in_schema=False)
    async def probe(request: Request) -> Response:
        return Response(headers={"X-Method": request.method})

    outer = APIRouter(prefix="/api", responses={})
    outer.include_router(router)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(outer)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize("path", ["/api/things/", "/api/things/x/", "/api/things/missing/"])
async def test_head_answers_as_get_without_a_body(client: httpx.AsyncClient, path: str) -> None:
    get, head = await client.get(path), await client.head(path)
    assert head.status_code == get.status_code
    assert head.headers == get.headers
    assert int(head.headers["content-length"]) == len(get.content) > 0
    assert head.content == b""


async def test_a_route_of_its_own_answers_head(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/things/x/probe/")).headers["x-method"] == "GET"
    assert (await client.head("/api/things/x/probe/")).headers["x-method"] == "HEAD"


async def test_head_of_a_route_without_get_is_not_allowed(client: httpx.AsyncClient) -> None:
    assert (await client.head("/api/things/x/star/")).status_code == 405
    assert (await client.head("/api/nothing/")).status_code == 404


def test_the_openapi_document_names_no_head_operations() -> None:
    paths = build_app().openapi()["paths"]
    assert {method for item in paths.values() for method in item} == {"get", "post"}
