"""Every error leaves in DANDI's shape, through the one handler."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from dandelion_common.errors import (
    Conflict,
    FieldErrors,
    InvalidToken,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    StorageUnavailable,
)
from dandelion_common.web.errors import install_error_handlers

RAISES = {
    "conflict": Conflict("An asset with that path already exists"),
    "fields": FieldErrors({"metadata": ["No path specified in metadata."]}),
    "anonymous": NotAuthenticated(),
    "bad-token": InvalidToken(),
    "forbidden": PermissionDenied(),
    "missing": NotFound(),
    "busy": ServiceUnavailable("Try again", retry_after_seconds=7),
    "storage": StorageUnavailable("connection refused"),
}


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    async def raise_(name: str) -> None:
        raise RAISES[name]

    @app.get("/db-down")
    async def db_down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    @app.get("/page")
    async def page(page: int) -> int:
        return page

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


@pytest.mark.parametrize(
    ("name", "status", "body"),
    [
        ("conflict", 409, "An asset with that path already exists"),
        ("fields", 400, {"metadata": ["No path specified in metadata."]}),
        ("anonymous", 401, {"detail": "Authentication credentials were not provided."}),
        ("bad-token", 401, {"detail": "Invalid token."}),
        ("forbidden", 403, {"detail": "You do not have permission to perform this action."}),
        ("missing", 404, {"detail": "Not found."}),
        ("busy", 503, {"detail": "Try again"}),
        ("storage", 503, {"detail": "Storage is temporarily unavailable."}),
    ],
)
async def test_archive_errors_render_as_dandi_does(
    client: httpx.AsyncClient, name: str, status: int, body: object
) -> None:
    response = await client.get(f"/raise/{name}")
    assert (response.status_code, response.json()) == (status, body)


async def test_401_carries_the_oauth_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/anonymous")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


async def test_retryable_errors_say_when(client: httpx.AsyncClient) -> None:
    assert (await client.get("/raise/busy")).headers["Retry-After"] == "7"
    assert (await client.get("/raise/storage")).headers["Retry-After"] == "5"


async def test_bad_query_is_a_400_with_field_errors(client: httpx.AsyncClient) -> None:
    response = await client.get("/page", params={"page": "two"})
    assert response.status_code == 400
    assert list(response.json()) == ["page"]


async def test_unknown_route_is_drf_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere/")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


async def test_an_unreachable_database_is_a_retryable_503(client: httpx.AsyncClient) -> None:
    """The dandi client retries 5xx; 503 + Retry-After tells it when, and no internals leak."""
    response = await client.get("/db-down")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "SELECT" not in response.text


async def test_a_bug_is_a_json_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/crash")
    assert (response.status_code, response.json()) == (500, {"detail": "Internal server error."})
