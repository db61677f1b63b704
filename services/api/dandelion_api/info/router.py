"""`GET /api/info/` and `GET /server-info`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from dandelion_api.info.schemas import ServerInfo
from dandelion_api.info.service import server_info
from dandelion_common.settings import Settings

router = APIRouter(tags=["info"])
root_router = APIRouter(include_in_schema=False)


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


@router.get("/info/", response_model=ServerInfo, response_model_by_alias=True)
async def get_info(settings: SettingsDep) -> ServerInfo:
    """Server information: schema version, service URLs and supported client versions."""
    return server_info(settings)


@root_router.get("/server-info", response_model=ServerInfo, response_model_by_alias=True)
async def get_server_info(settings: SettingsDep) -> ServerInfo:
    """The same document at the address the dandi client tries first for a bare URL."""
    return server_info(settings)
