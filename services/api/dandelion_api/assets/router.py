"""Assets: nested under a version, and top-level `/api/assets/{id}/...`."""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from dandelion_api.assets.schemas import AssetCreate, AssetOut, AssetValidation, PathNode
from dandelion_api.assets.service import edits, reads
from dandelion_api.auth.dependencies import ApprovedUser, MaybeUser
from dandelion_api.pagination import Page, Pagination, paginate
from dandelion_api.params import AssetId, DandisetId, VersionId
from dandelion_api.resources import ResourcesDep
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, Responses, SessionDep

nested = APIRouter(
    prefix="/dandisets/{dandiset_id}/versions/{version}/assets",
    tags=["assets"],
    # Unknown ids, and embargoed dandisets of others.
    responses=errors(403, 404),
)
top_level = APIRouter(prefix="/assets", tags=["assets"], responses=errors(403, 404))

Order = Literal["created", "-created", "modified", "-modified", "path", "-path"]
# A string, checked by the service as DANDI does (after the asset is found; DRF's message).
ContentDisposition = Annotated[
    str,
    Query(
        description="`attachment` saves the file; `inline` shows it in the browser",
        json_schema_extra={"enum": list(reads.DISPOSITIONS)},
    ),
]
VIDEO_PAGE: Responses = {
    200: {
        "description": "With `content_disposition=inline`, for a video: a page playing it",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


@nested.get("/", response_model=Page[AssetOut], response_model_exclude_none=False)
async def list_assets(
    request: Request,
    dandiset_id: DandisetId,
    version: VersionId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
    pagination: Pagination,
    path: Annotated[str | None, Query(description="Case-insensitive path prefix")] = None,
    glob: Annotated[str | None, Query(description="Case-insensitive pattern, * = anything")] = None,
    zarr: Annotated[bool, Query(description="Only zarr assets")] = False,
    order: Order = "created",
    metadata: bool = False,
) -> Response:
    """Assets of a version; `count` only on page 1 (DANDI's lazy pagination)."""
    items, count, has_next = await reads.list_assets(
        session,
        resources.settings,
        dandiset_id=dandiset_id,
        version=version,
        user=user,
        path=path,
        glob=glob,
        zarr=zarr,
        order=order,
        with_metadata=metadata,
        offset=pagination.offset,
        limit=pagination.page_size,
        first_page=pagination.page == 1,
    )
    exclude = None if metadata else {"metadata"}
    page = paginate(
        request,
        pagination,
        [i.model_dump(mode="json", exclude=exclude) for i in items],
        count=count,
        has_next=has_next,
    )
    return JSONResponse(page)


@nested.post("/", response_model=AssetOut, responses=errors(400, 405, 409))
async def create_asset(
    dandiset_id: DandisetId,
    version: VersionId,
    body: AssetCreate,
    session: SessionDep,
    user: ApprovedUser,
    resources: ResourcesDep,
) -> AssetOut:
    """Add a blob or a zarr archive to the draft at `metadata.path` (owners only)."""
    return await edits.create(
        session, resources.settings, user=user, dandiset_id=dandiset_id, version=version, body=body
    )


@nested.get("/paths/", response_model=Page[PathNode])
async def list_paths(
    request: Request,
    dandiset_id: DandisetId,
    version: VersionId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
    pagination: Pagination,
    path_prefix: str = "",
) -> dict[str, Any]:
    """Direct children of a folder with aggregate file counts and sizes."""
    items, count = await reads.folder(
        session,
        resources.storage,
        dandiset_id=dandiset_id,
        version=version,
        user=user,
        prefix=path_prefix,
        offset=pagination.offset,
        limit=pagination.page_size,
    )
    has_next = pagination.offset + len(items) < count
    return paginate(request, pagination, items, count=count, has_next=has_next)


@nested.get("/{asset_id}/")
async def get_asset(
    dandiset_id: DandisetId,
    version: VersionId,
    asset_id: AssetId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
) -> dict[str, Any]:
    """The asset's metadata document."""
    return await reads.nested_metadata(
        session,
        resources.settings,
        dandiset_id=dandiset_id,
        version=version,
        asset_id=asset_id,
        user=user,
    )


@nested.put("/{asset_id}/", response_model=AssetOut, responses=errors(400, 405, 409))
async def replace_asset(
    dandiset_id: DandisetId,
    version: VersionId,
    asset_id: AssetId,
    body: AssetCreate,
    session: SessionDep,
    user: ApprovedUser,
    resources: ResourcesDep,
) -> AssetOut:
    """Replace an asset of the draft; a change yields a new asset id."""
    return await edits.replace(
        session,
        resources.settings,
        user=user,
        dandiset_id=dandiset_id,
        version=version,
        asset_id=asset_id,
        body=body,
    )


@nested.delete("/{asset_id}/", status_code=204, responses=errors(405))
async def delete_asset(
    dandiset_id: DandisetId,
    version: VersionId,
    asset_id: AssetId,
    session: SessionDep,
    user: ApprovedUser,
) -> Response:
    """Remove an asset from the draft."""
    await edits.remove(
        session, user=user, dandiset_id=dandiset_id, version=version, asset_id=asset_id
    )
    return Response(status_code=204)


@nested.get("/{asset_id}/info/", response_model=AssetOut)
async def get_nested_info(
    dandiset_id: DandisetId,
    version: VersionId,
    asset_id: AssetId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
) -> AssetOut:
    """The asset record with its metadata."""
    return await reads.nested_info(
        session,
        resources.settings,
        dandiset_id=dandiset_id,
        version=version,
        asset_id=asset_id,
        user=user,
    )


@nested.get("/{asset_id}/validation/", response_model=AssetValidation)
async def get_validation(
    dandiset_id: DandisetId,
    version: VersionId,
    asset_id: AssetId,
    session: SessionDep,
    user: MaybeUser,
) -> AssetValidation:
    """The asset's validation status and errors."""
    return await reads.validation(
        session, dandiset_id=dandiset_id, version=version, asset_id=asset_id, user=user
    )


@nested.get(
    "/{asset_id}/download/",
    response_class=RedirectResponse,
    status_code=302,
    responses=VIDEO_PAGE,
)
async def nested_download(
    dandiset_id: DandisetId,
    version: VersionId,
    asset_id: AssetId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
    content_disposition: ContentDisposition = "attachment",
) -> Response:
    """302 to a short-lived presigned URL of the asset's bytes, to save or (`inline`) to show
    in the browser; 400 for a zarr asset."""
    found = await reads.nested_download(
        session,
        resources.storage,
        dandiset_id=dandiset_id,
        version=version,
        asset_id=asset_id,
        user=user,
        disposition=content_disposition,
    )
    return _download_response(found)


@top_level.get("/{asset_id}/")
async def get_top_level_asset(
    asset_id: AssetId, session: SessionDep, user: MaybeUser, resources: ResourcesDep
) -> dict[str, Any]:
    """An asset's metadata document, by id alone."""
    return await reads.top_level_metadata(session, resources.settings, asset_id=asset_id, user=user)


@top_level.get("/{asset_id}/info/", response_model=AssetOut)
async def get_top_level_info(
    asset_id: AssetId, session: SessionDep, user: MaybeUser, resources: ResourcesDep
) -> AssetOut:
    """An asset's record with its metadata, by id alone."""
    return await reads.top_level_info(session, resources.settings, asset_id=asset_id, user=user)


@top_level.get(
    "/{asset_id}/download/",
    response_class=RedirectResponse,
    status_code=302,
    responses=VIDEO_PAGE,
)
async def download(
    asset_id: AssetId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
    content_disposition: ContentDisposition = "attachment",
) -> Response:
    """302 to a short-lived presigned URL of the asset's bytes (what the dandi client follows),
    to save or (`inline`) to show in the browser."""
    found = await reads.download(
        session, resources.storage, asset_id=asset_id, user=user, disposition=content_disposition
    )
    return _download_response(found)


def _download_response(found: reads.Download) -> Response:
    """The redirect to the bytes; for an inline video, DANDI's page playing it instead."""
    if not found.player:
        return RedirectResponse(found.url, status_code=302)
    source = html.escape(found.url)
    return HTMLResponse(f'<video autoplay muted controls>\n  <source src="{source}">\n</video>\n')
