"""`/api/dandisets/{id}/versions/...`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Query, Request, Response
from fastapi.responses import JSONResponse

from dandelion_api.auth.dependencies import ApprovedUser, MaybeUser
from dandelion_api.pagination import Page, Pagination, paginate
from dandelion_api.params import DandisetId, VersionId
from dandelion_api.resources import ResourcesDep
from dandelion_api.versions import service
from dandelion_api.versions.schemas import PublishBody, VersionInfo, VersionOut, VersionUpdate
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

router = APIRouter(
    prefix="/dandisets/{dandiset_id}/versions",
    tags=["versions"],
    responses=errors(400, 403, 404, 405, 409, 423),
)


@router.get("/", response_model=Page[VersionOut])
async def list_versions(
    request: Request,
    dandiset_id: DandisetId,
    session: SessionDep,
    user: MaybeUser,
    pagination: Pagination,
    order: Annotated[Literal["created", "-created"], Query()] = "created",
) -> dict[str, Any]:
    """The versions of a dandiset, oldest first (or `order=-created`)."""
    versions, count = await service.list_versions(
        session,
        dandiset_id=dandiset_id,
        user=user,
        descending=order == "-created",
        offset=pagination.offset,
        limit=pagination.page_size,
    )
    has_next = pagination.offset + len(versions) < count
    return paginate(request, pagination, versions, count=count, has_next=has_next)


@router.get("/{version}/")
async def get_version_metadata(
    dandiset_id: DandisetId,
    version: VersionId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
) -> dict[str, Any]:
    """The version's metadata document (dandischema Dandiset or PublishedDandiset)."""
    return await service.metadata(
        session, resources.settings, dandiset_id=dandiset_id, version=version, user=user
    )


@router.get("/{version}/info/", response_model=VersionInfo)
async def get_version_info(
    dandiset_id: DandisetId,
    version: VersionId,
    session: SessionDep,
    user: MaybeUser,
    resources: ResourcesDep,
) -> VersionInfo:
    """The version record with its validation errors and metadata."""
    return await service.info(
        session, resources.settings, dandiset_id=dandiset_id, version=version, user=user
    )


@router.put("/{version}/", response_model=VersionInfo)
async def update_version(
    dandiset_id: DandisetId,
    version: VersionId,
    body: VersionUpdate,
    session: SessionDep,
    user: ApprovedUser,
    resources: ResourcesDep,
) -> VersionInfo:
    """Edit the draft's name and metadata (owners only); the draft goes back to Pending."""
    return await service.update_draft(
        session, resources.settings, user=user, dandiset_id=dandiset_id, version=version, body=body
    )


@router.delete("/{version}/", status_code=204)
async def delete_version(
    dandiset_id: DandisetId, version: VersionId, session: SessionDep, user: ApprovedUser
) -> Response:
    """Delete a published version (admins only)."""
    await service.delete_published(session, user=user, dandiset_id=dandiset_id, version=version)
    return Response(status_code=204)


@router.post("/{version}/publish/", status_code=202, response_model=None)
async def publish_version(
    dandiset_id: DandisetId,
    version: VersionId,
    session: SessionDep,
    user: ApprovedUser,
    body: Annotated[PublishBody | None, Body()] = None,
) -> JSONResponse:
    """Publish the draft (owners only): 202 and a null body at once; the new version
    `0.YYMMDD.HHMM` appears when the publish job has run. 400 when the draft or one of its
    assets is not valid or nothing changed since the last publish, 409 while validation is
    pending, 423 while a publish is running."""
    notes = body.release_notes if body else None
    await service.publish(
        session, user=user, dandiset_id=dandiset_id, version=version, release_notes=notes
    )
    return JSONResponse(None, status_code=202)
