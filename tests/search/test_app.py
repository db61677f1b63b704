"""The search API has the same health endpoints as the api."""

from __future__ import annotations

from conftest import serve

from dandelion_common.web.resources import Resources


async def test_search_api_is_ready_when_backing_services_are(resources: Resources) -> None:
    from dandelion_search.app import create_app

    async with serve(create_app(resources.settings), resources) as client:
        ready = await client.get("/readyz")
        live = await client.get("/healthz")
    assert (ready.status_code, ready.json()["status"]) == (200, "ok")
    assert live.status_code == 200
