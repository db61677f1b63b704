"""The search API's health: ready when PostgreSQL and its search engine answer, whatever
Redis and S3 do (it uses neither); built by its own lifespan, as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from dandelion_common.devstack.process import free_port
from dandelion_common.settings import OpenSearchSettings, RedisSettings, Settings


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The search API with the clients its own lifespan builds from `settings`."""
    from dandelion_search.app import create_app

    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()


async def test_ready_without_redis_and_s3_which_it_never_uses(settings: Settings) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    outage = settings.model_copy(
        update={
            "redis": RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0"),
            "s3": settings.s3.model_copy(update={"endpoint_url": nowhere}),
        }
    )

    async with running(outage) as client:
        status, body = await readiness(client)
        live = await client.get("/healthz")

    assert (status, body) == (200, {"status": "ok", "checks": {"postgres": "ok"}})
    assert live.status_code == 200


async def test_not_ready_while_its_opensearch_is_away(settings: Settings) -> None:
    away = OpenSearchSettings(url=f"http://127.0.0.1:{free_port()}", index_prefix="away")
    async with running(settings.model_copy(update={"opensearch": away})) as client:
        status, body = await readiness(client)

    assert status == 503
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["opensearch"].startswith("error")
    assert set(body["checks"]) == {"postgres", "opensearch"}


async def test_ready_with_a_live_opensearch(settings: Settings, opensearch_url: str) -> None:
    live = OpenSearchSettings(url=opensearch_url, index_prefix="ready")
    async with running(settings.model_copy(update={"opensearch": live})) as client:
        assert await readiness(client) == (
            200,
            {"status": "ok", "checks": {"postgres": "ok", "opensearch": "ok"}},
        )
