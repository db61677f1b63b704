"""`/api/stats/`, `/api/schemas/...`, `/api/audit/events/asset` and `/api/blobs/digest/`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from dandelion_api.auth.dependencies import AdminUser, MaybeUser
from dandelion_api.meta import service
from dandelion_api.meta.schemas import (
    SCHEMA_MODELS,
    ApplicationStats,
    AssetAuditEventPage,
    AuditEventQuery,
    BlobInfo,
    Digest,
)
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

info_router = APIRouter(tags=["info"], responses={})
audit_router = APIRouter(tags=["audit"], responses={})
blobs_router = APIRouter(tags=["blobs"], responses={})


@info_router.get("/stats/", response_model=ApplicationStats)
async def get_stats(session: SessionDep) -> ApplicationStats:
    """Archive-wide counts of dandisets, published dandisets, approved users and stored bytes."""
    return await service.application_stats(session)


@info_router.get("/schemas/available/", response_model=list[str])
async def list_schemas() -> list[str]:
    """Names of the metadata models whose JSON Schema `/api/schemas/` serves."""
    return service.available_schemas()


_JSON_SCHEMA_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}}, "description": "JSON Schema"}
}


# A plain `def`, so it runs in the threadpool: the first build of a schema is CPU-bound.
@info_router.get("/schemas/", response_class=Response, responses=_JSON_SCHEMA_RESPONSE)
def get_schema(
    model: Annotated[
        str | None,
        Query(description="The metadata model", json_schema_extra={"enum": SCHEMA_MODELS}),
    ] = None,
    version: Annotated[
        str, Query(description="`latest` or the server's schema version")
    ] = "latest",
) -> Response:
    """The JSON Schema of a dandischema metadata model, with this instance's identifiers."""
    return Response(service.schema_document(model, version), media_type="application/json")


# DANDI's one route without a trailing slash.
@audit_router.get(
    "/audit/events/asset", response_model=AssetAuditEventPage, responses=errors(403, 404)
)
async def list_asset_audit_events(
    request: Request,
    _: AdminUser,
    session: SessionDep,
    query: Annotated[AuditEventQuery, Query()],
) -> AssetAuditEventPage:
    """Cursor-paginated asset additions, updates and removals, for admins."""
    return await service.asset_audit_events(session, query=query, url=request.url)


@blobs_router.post("/blobs/digest/", response_model=BlobInfo, responses=errors(404))
async def get_blob_by_digest(digest: Digest, user: MaybeUser, session: SessionDep) -> BlobInfo:
    """Look up an uploaded blob by its dandi-etag or SHA-256, so a client can skip uploading."""
    return await service.blob_by_digest(session, digest=digest, user=user)


router = APIRouter(responses={})
router.include_router(info_router)
router.include_router(audit_router)
router.include_router(blobs_router)
