"""`/api/search/assets/` and `/api/search/dandisets/`: faceted search beyond DANDI's API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dandelion_common.web.resources import ResourcesDep
from dandelion_search.api import service
from dandelion_search.api.dependencies import BackendDep, VisibilityDep
from dandelion_search.api.schemas import (
    ASSET_PAGE_EXAMPLE,
    DANDISET_PAGE_EXAMPLE,
    AssetHit,
    AssetSearchParams,
    DandisetHit,
    DandisetSearchParams,
    SearchPage,
)

router = APIRouter(prefix="/api/search", tags=["search"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Invalid parameters, by field (DANDI's shape).",
        "content": {"application/json": {"example": {"page_size": ["Input should be ..."]}}},
    },
    401: {"description": "An `Authorization: token` header with an unknown key."},
}


def _example(example: object) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": example}}}, **_ERRORS}


@router.get("/assets/", responses=_example(ASSET_PAGE_EXAMPLE))
async def search_assets(
    params: Annotated[AssetSearchParams, Query()],
    request: Request,
    backend: BackendDep,
    visibility: VisibilityDep,
    resources: ResourcesDep,
) -> SearchPage[AssetHit]:
    """Search assets by text, facets and ranges; embargoed ones only for owners and admins."""
    return await service.search_assets(
        backend,
        visibility,
        params,
        api_url=resources.settings.api.api_url,
        page_url=request.url,
    )


@router.get("/dandisets/", responses=_example(DANDISET_PAGE_EXAMPLE))
async def search_dandisets(
    params: Annotated[DandisetSearchParams, Query()],
    request: Request,
    backend: BackendDep,
    visibility: VisibilityDep,
    resources: ResourcesDep,
) -> SearchPage[DandisetHit]:
    """Search dandisets by text, facets and ranges of their assets' NWB metadata."""
    return await service.search_dandisets(
        backend,
        visibility,
        params,
        api_url=resources.settings.api.api_url,
        page_url=request.url,
    )
