"""`/api/info/` is what the unmodified dandi client needs to accept this instance."""

from __future__ import annotations

import httpx
from conftest import serve
from dandi.utils import ServerInfo as DandiServerInfo
from dandischema.conf import Config

from dandelion_api.resources import ApiResources
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import ApiSettings, Settings


async def test_info_is_accepted_by_the_dandi_client_model(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/api/info/")
    assert response.status_code == 200
    info = DandiServerInfo.model_validate(response.json())
    assert info.services.api.url == "http://127.0.0.1:8000/api"
    assert info.cli_bad_versions == []


async def test_info_has_dandis_keys(api_client: httpx.AsyncClient, settings: Settings) -> None:
    body = (await api_client.get("/api/info/")).json()
    assert set(body) == {
        "instance_config",
        "schema_version",
        "schema_url",
        "allowed_schema_versions",
        "version",
        "services",
        "cli-minimal-version",
        "cli-requires-python",
        "cli-bad-versions",
    }
    assert body["schema_version"] == SCHEMA_VERSION
    assert SCHEMA_VERSION in body["allowed_schema_versions"]
    assert set(body["instance_config"]) == set(Config.model_fields)  # every key, None included
    assert body["instance_config"]["instance_name"] == settings.instance.name
    assert body["schema_url"] == "http://127.0.0.1:8000/api/schemas/?model=Dandiset"


async def test_server_info_is_the_same_json(api_client: httpx.AsyncClient) -> None:
    """The client asks /server-info first for a bare URL: JSON or 404, never HTML."""
    server_info = await api_client.get("/server-info")
    assert server_info.headers["content-type"] == "application/json"
    assert server_info.json() == (await api_client.get("/api/info/")).json()


async def test_public_url_sets_the_api_url(resources: ApiResources, settings: Settings) -> None:
    from dandelion_api.app import create_app

    custom = settings.model_copy(
        update={"api": ApiSettings(public_url="https://archive.example.org/")}
    )
    async with serve(create_app(custom), resources) as client:
        body = (await client.get("/api/info/")).json()
    assert body["services"]["api"]["url"] == "https://archive.example.org/api"


async def test_openapi_docs_are_served(api_client: httpx.AsyncClient) -> None:
    assert (await api_client.get("/api/docs/")).status_code == 200
    schema = (await api_client.get("/api/docs/openapi.json")).json()
    assert "/api/info/" in schema["paths"]


async def test_the_api_origins_root_leads_to_the_web_pages(api_client: httpx.AsyncClient) -> None:
    answer = await api_client.get("/")
    assert answer.status_code == 302
    assert answer.headers["location"] == "http://127.0.0.1:8085/"
