"""`/api/webdav/...`: the path resolver behind dandi-webdav."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from dandelion_api.auth.dependencies import MaybeUser
from dandelion_api.pagination import Page, Pagination, paginate
from dandelion_api.resources import ResourcesDep
from dandelion_api.webdav import service
from dandelion_api.webdav.schemas import AtPathQueryDep, PathResult
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

router = APIRouter(prefix="/webdav", tags=["webdav"], responses={})


@router.get("/assets/atpath/", response_model=Page[PathResult], responses=errors(403, 404))
async def at_path(
    request: Request,
    query: AtPathQueryDep,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
    pagination: Pagination,
) -> dict[str, Any]:
    """The asset or folder at `path`, followed by a folder's direct children if asked."""
    results, count = await service.at_path(
        session,
        resources.settings,
        resources.storage,
        user=user,
        query=query,
        offset=pagination.offset,
        limit=pagination.page_size,
    )
    has_next = pagination.offset + len(results) < count
    return paginate(request, pagination, results, count=count, has_next=has_next)
