"""`/api/zarr/...`: DANDI's ZarrViewSet. A snapshot's id is a zarr id too, read-only."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from dandelion_api.auth.dependencies import ApprovedUser, MaybeUser
from dandelion_api.pagination import Page, Pagination, paginate
from dandelion_api.resources import ResourcesDep
from dandelion_api.zarr import service
from dandelion_api.zarr.schemas import (
    DANDISET_PATTERN,
    MAX_FILES,
    MAX_PATH_LENGTH,
    FileDelete,
    FileListing,
    FileUpload,
    ZarrCreate,
    ZarrOut,
)
from dandelion_common.errors import NotFound
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

router = APIRouter(prefix="/zarr", tags=["zarr"], responses=errors(400, 403, 404))

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def zarr_id(
    zarr_id: Annotated[str, Path(description="A zarr archive's or snapshot's UUID")],
) -> uuid.UUID:
    """DANDI's URL pattern: anything but a v4 UUID routes nowhere (404)."""
    if not _UUID4.match(zarr_id):
        raise NotFound()
    return uuid.UUID(zarr_id)


ZarrId = Annotated[uuid.UUID, Depends(zarr_id)]


def _list_errors() -> dict[int | str, dict[str, Any]]:
    """400 as documented everywhere, plus DRF's list of messages (`["Zarr already exists"]`)."""
    responses = errors(400)
    content = responses[400]["content"]["application/json"]
    listed = {"type": "array", "items": {"type": "string"}}
    content["schema"] = {"anyOf": [*content["schema"]["anyOf"], listed]}
    return responses


@router.get("/", response_model=Page[ZarrOut])
async def list_zarrs(
    request: Request,
    session: SessionDep,
    user: MaybeUser,
    pagination: Pagination,
    dandiset: Annotated[str | None, Query(pattern=DANDISET_PATTERN)] = None,
    name: Annotated[str | None, Query(description="Exact name")] = None,
) -> dict[str, Any]:
    """Zarr archives of the dandisets the caller may read, oldest first."""
    items, count = await service.list_zarrs(
        session,
        user=user,
        dandiset=dandiset,
        name=name,
        offset=pagination.offset,
        limit=pagination.page_size,
    )
    has_next = pagination.offset + len(items) < count
    return paginate(request, pagination, items, count=count, has_next=has_next)


@router.post("/", response_model=ZarrOut, responses=_list_errors())
async def create_zarr(body: ZarrCreate, session: SessionDep, user: ApprovedUser) -> ZarrOut:
    """Create an empty (Pending) zarr archive in a dandiset the caller owns (200, as DANDI)."""
    return await service.create(session, user=user, body=body)


@router.get("/{zarr_id}/", response_model=ZarrOut)
async def get_zarr(zarr_id: ZarrId, session: SessionDep, user: MaybeUser) -> ZarrOut:
    """One zarr archive; a snapshot id answers with the snapshot's checksum, count and size."""
    return await service.get(session, user=user, zarr_id=zarr_id)


@router.get(
    "/{zarr_id}/files/",
    response_model=FileListing,
    responses={302: {"description": "With `download=true`: to a presigned URL of `prefix`"}},
)
@router.head("/{zarr_id}/files/", include_in_schema=False)
async def list_files(
    request: Request,
    zarr_id: ZarrId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
    prefix: Annotated[str, Query(max_length=MAX_PATH_LENGTH)] = "",
    after: Annotated[str, Query(max_length=MAX_PATH_LENGTH, description="A path")] = "",
    limit: Annotated[int, Query(ge=0, le=1000)] = 1000,
    download: bool = False,
) -> Response:
    """Files under `prefix` in key order, after the path `after`; HEAD or `download=true`
    redirects to the file named by `prefix`."""
    if download or request.method == "HEAD":
        url = await service.download_url(
            session, resources.storage, user=user, zarr_id=zarr_id, path=prefix
        )
        return RedirectResponse(url, status_code=302)
    files, more = await service.list_files(
        session,
        resources.storage,
        user=user,
        zarr_id=zarr_id,
        prefix=prefix,
        after=after,
        limit=limit,
    )
    next_url = str(request.url.include_query_params(after=files[-1].Key)) if more else None
    listing = FileListing(next=next_url, results=files)
    return JSONResponse(listing.model_dump(mode="json"))


@router.post("/{zarr_id}/files/", response_model=list[str])
async def upload_files(
    zarr_id: ZarrId,
    body: Annotated[list[FileUpload], Body(max_length=MAX_FILES)],
    session: SessionDep,
    user: ApprovedUser,
    resources: ResourcesDep,
) -> list[str]:
    """Presigned PUT URLs for the files, in order (send the Content-MD5 header, and the
    signed x-amz-tagging header when present); the archive becomes Pending."""
    files = [(f.path, f.base64md5) for f in body]
    return await service.upload_urls(
        session, resources.storage, user=user, zarr_id=zarr_id, files=files
    )


@router.delete("/{zarr_id}/files/", status_code=204, responses=_list_errors())
async def delete_files(
    zarr_id: ZarrId,
    body: Annotated[list[FileDelete], Body(max_length=MAX_FILES)],
    session: SessionDep,
    user: ApprovedUser,
    resources: ResourcesDep,
) -> Response:
    """Delete files, each of which must exist; the archive becomes Pending."""
    paths = [f.path for f in body]
    await service.delete_files(session, resources.storage, user=user, zarr_id=zarr_id, paths=paths)
    return Response(status_code=204)


@router.post("/{zarr_id}/finalize/", status_code=204)
async def finalize(zarr_id: ZarrId, session: SessionDep, user: ApprovedUser) -> Response:
    """Uploading is done: compute the checksum, count and size in the background."""
    await service.finalize(session, user=user, zarr_id=zarr_id)
    return Response(status_code=204)
