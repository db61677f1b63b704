"""Builds the server-info document from settings and the installed dandischema."""

from __future__ import annotations

from dandelion_api.info.schemas import ServerInfo, Services, ServiceUrl
from dandelion_common import __version__
from dandelion_common.schema import ALLOWED_SCHEMA_VERSIONS, SCHEMA_VERSION, instance_config
from dandelion_common.settings import Settings

CLI_REQUIRES_PYTHON = ">=3.10"


def server_info(settings: Settings) -> ServerInfo:
    api_url = settings.api.api_url
    return ServerInfo(
        instance_config=instance_config(settings.instance).model_dump(
            mode="json", exclude_none=False
        ),
        schema_version=SCHEMA_VERSION,
        schema_url=f"{api_url}/schemas/?model=Dandiset",
        allowed_schema_versions=ALLOWED_SCHEMA_VERSIONS,
        version=__version__,
        services=Services(
            api=ServiceUrl(url=api_url), webui=ServiceUrl(url=settings.instance.web_url)
        ),
        cli_minimal_version=settings.instance.cli_minimal_version,
        cli_requires_python=CLI_REQUIRES_PYTHON,
        cli_bad_versions=settings.instance.cli_bad_versions,
    )
