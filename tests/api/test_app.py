"""The API app's own routes: DANDI's documentation addresses lead to ours."""

from __future__ import annotations

import httpx
import pytest


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
