"""CORS as on DANDI: any origin may read, only configured origins may write."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Response

from dandelion_common.web.cors import Cors

ALLOWED = "https://dandiarchive.org"
PREVIEW = "https://pr-12--gui-dandiarchive.netlify.app"
STRANGER = "https://elsewhere.example"


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/thing")
    async def read() -> Response:
        return Response(
            "x", headers={"Content-Disposition": 'attachment; filename="a"', "Vary": "Accept"}
        )

    @app.post("/thing")
    async def write() -> dict[str, bool]:
        return {"written": True}

    @app.delete("/thing")
    async def delete() -> None:
        return None

    app.add_middleware(
        Cors,
        allow_origins=[ALLOWED],
        allow_origin_regex=r"https://[a-z0-9-]+--gui-dandiarchive\.netlify\.app",
    )
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def preflight(origin: str, method: str, headers: str | None = None) -> dict[str, str]:
    result = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        result["Access-Control-Request-Headers"] = headers
    return result


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


@pytest.mark.parametrize("origin", [STRANGER, ALLOWED, "null"])
async def test_anyone_may_read(client: httpx.AsyncClient, origin: str) -> None:
    response = await client.get("/thing", headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Expose-Headers"] == "Content-Disposition, Location"
    assert response.headers["Vary"] == "Accept, Origin"

    head = await client.head("/thing", headers={"Origin": origin})
    assert head.headers["Access-Control-Allow-Origin"] == "*"


async def test_read_preflight_from_any_origin_echoes_the_requested_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options(
        "/thing", headers=preflight(STRANGER, "GET", "Authorization, Range")
    )
    assert response.status_code == 200
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": STRANGER,
        "access-control-allow-methods": "GET, HEAD, OPTIONS",
        "access-control-allow-headers": "Authorization, Range",
        "access-control-max-age": "86400",
    }
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("origin", [ALLOWED, PREVIEW])
async def test_configured_origins_may_write(client: httpx.AsyncClient, origin: str) -> None:
    response = await client.options(
        "/thing", headers=preflight(origin, "POST", "authorization,content-type")
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in response.headers["Access-Control-Allow-Methods"].split(", ")
    assert response.headers["Access-Control-Allow-Headers"] == "authorization,content-type"

    write = await client.post("/thing", headers={"Origin": origin})
    assert write.json() == {"written": True}
    assert write.headers["Access-Control-Allow-Origin"] == origin
    assert write.headers["Vary"] == "Origin"
    delete = await client.delete("/thing", headers={"Origin": origin})
    assert delete.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(
    "origin",
    [STRANGER, "null", ALLOWED + ".evil.example", "https://x--gui-dandiarchive.netlify.app.evil"],
)
async def test_other_origins_may_not_write(client: httpx.AsyncClient, origin: str) -> None:
    response = await client.options("/thing", headers=preflight(origin, "POST", "content-type"))
    assert response.status_code == 200
    assert cors_headers(response) == {}

    # A write sent anyway (no preflight needed for a form POST) gets no CORS headers.
    write = await client.post("/thing", headers={"Origin": origin})
    assert write.status_code == 200
    assert cors_headers(write) == {}
    assert write.headers["Vary"] == "Origin"


async def test_requests_without_origin_get_only_vary(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/thing"), await client.post("/thing")):
        assert cors_headers(response) == {}
        assert "Origin" in response.headers["Vary"]
    # A plain OPTIONS is no preflight: the app answers it (here: no such route).
    options = await client.options("/thing", headers={"Origin": STRANGER})
    assert options.status_code == 405
    assert options.headers["Access-Control-Allow-Origin"] == "*"


async def test_malformed_requested_headers_are_not_echoed(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/thing", headers=preflight(STRANGER, "GET", "Authorization, bad header")
    )
    assert response.headers["Access-Control-Allow-Origin"] == STRANGER
    assert "access-control-allow-headers" not in response.headers


async def test_the_api_app_has_it(api_client: httpx.AsyncClient) -> None:
    response = await api_client.options(
        "/api/dandisets/", headers=preflight(STRANGER, "GET", "Authorization")
    )
    assert response.headers["Access-Control-Allow-Origin"] == STRANGER
    read = await api_client.get("/api/info/", headers={"Origin": STRANGER})
    assert read.headers["Access-Control-Allow-Origin"] == "*"
    write = await api_client.options("/api/dandisets/", headers=preflight(STRANGER, "POST"))
    assert cors_headers(write) == {}
