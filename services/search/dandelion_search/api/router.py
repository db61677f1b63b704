"""`/api/search/assets/` and `/api/search/dandisets/`: faceted search beyond DANDI's API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from dandelion_common.web.inputs import refuse_unsafe_input
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter
from dandelion_search.api import service
from dandelion_search.api.dependencies import BackendDep, VisibilityDep
from dandelion_search.api.resources import ResourcesDep
from dandelion_search.api.schemas import (
    ASSET_PAGE_EXAMPLE,
    DANDISET_PAGE_EXAMPLE,
    AssetHit,
    AssetSearchParams,
    DandisetHit,
    DandisetSearchParams,
    SearchPage,
)

# NUL and control characters in query parameters are a 400 before the search runs (NUL
# cannot reach PostgreSQL: the search tables, or the visibility lookup).
router = APIRouter(
    prefix="/api/search",
    tags=["search"],
    dependencies=[Depends(refuse_unsafe_input)],
    responses={},  # each route names its own (with its example)
)


def _example(example: object) -> dict[int | str, dict[str, Any]]:
    # 400: invalid parameters, by field (DANDI's shape); 401: an unknown API key.
    return {200: {"content": {"application/json": {"example": example}}}, **errors(400, 401)}


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
