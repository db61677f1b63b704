"""The `/api/info/` document, with DANDI's exact (partly hyphenated) keys."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ServiceUrl(BaseModel):
    url: str


class Services(BaseModel):
    api: ServiceUrl
    webui: ServiceUrl


class ServerInfo(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "example": {
                "instance_config": {
                    "instance_name": "DANDELION",
                    "instance_identifier": None,
                    "instance_url": "http://127.0.0.1:8085/",
                    "doi_prefix": "10.80507",
                    "licenses": ["spdx:CC-BY-4.0", "spdx:CC0-1.0"],
                },
                "schema_version": "0.8.0",
                "schema_url": "http://127.0.0.1:8000/api/schemas/?model=Dandiset",
                "allowed_schema_versions": ["0.7.0", "0.8.0"],
                "version": "0.1.0",
                "services": {
                    "api": {"url": "http://127.0.0.1:8000/api"},
                    "webui": {"url": "http://127.0.0.1:8085"},
                },
                "cli-minimal-version": "0.60.0",
                "cli-requires-python": ">=3.10",
                "cli-bad-versions": [],
            }
        },
    )

    instance_config: dict[str, Any]
    schema_version: str
    schema_url: str
    allowed_schema_versions: list[str]
    version: str
    services: Services
    cli_minimal_version: str = Field(alias="cli-minimal-version")
    cli_requires_python: str = Field(alias="cli-requires-python")
    cli_bad_versions: list[str] = Field(alias="cli-bad-versions")
