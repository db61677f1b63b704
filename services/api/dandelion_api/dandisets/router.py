"""`/api/dandisets/...`: list, create, retrieve, delete, unembargo, owners, stars, pending
uploads, and (beyond DANDI) a deleted dandiset's tombstone."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from dandelion_api.auth.dependencies import ApprovedUser, AuthenticatedUser, MaybeUser
from dandelion_api.dandisets import embargo, service, tombstone
from dandelion_api.dandisets.repository import ListFilters
from dandelion_api.dandisets.schemas import (
    DandisetCreate,
    DandisetDetail,
    DandisetListItem,
    EmbargoOptions,
    Owner,
    OwnerRef,
    PendingUpload,
    StarCount,
    Tombstone,
)
from dandelion_api.pagination import Page, Pagination, paginate
from dandelion_api.params import DandisetId, IsoDate
from dandelion_api.resources import ResourcesDep
from dandelion_common.storage import blob_key
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

router = APIRouter(prefix="/dandisets", tags=["dandisets"], responses=errors(400, 403, 404))


@router.get("/", response_model=Page[DandisetListItem])
async def list_dandisets(
    request: Request,
    session: SessionDep,
    user: MaybeUser,
    pagination: Pagination,
    draft: bool = True,
    empty: bool = True,
    embargoed: bool = False,
    user_filter: Annotated[str | None, Query(alias="user", description="`me`: only mine")] = None,
    starred: bool = False,
    # No max_length: the parser refuses over-long queries with DANDI's `{"search": ...}` 400.
    search: Annotated[str | None, Query(description="DANDI's search syntax")] = None,
    ordering: Annotated[str | None, Query(pattern=r"^-?(id|name|modified|size|stars)$")] = None,
) -> dict[str, Any]:
    """List dandisets (DANDI's filters and ordering)."""
    filters = ListFilters(
        draft=draft,
        empty=empty,
        embargoed=embargoed,
        mine=user_filter == "me",
        starred=starred,
        ordering=ordering,
    )
    items, count = await service.list_dandisets(
        session,
        filters=filters,
        user=user,
        offset=pagination.offset,
        limit=pagination.page_size,
        search=search,
    )
    has_next = pagination.offset + len(items) < count
    return paginate(request, pagination, items, count=count, has_next=has_next)


@router.post("/", response_model=DandisetDetail)
async def create_dandiset(
    session: SessionDep,
    user: ApprovedUser,
    body: DandisetCreate,
    embargo: bool = False,
    funding_source: str | None = None,
    award_number: str | None = None,
    embargo_end_date: IsoDate | None = None,
) -> DandisetDetail:
    """Create a dandiset and its draft version (200, as DANDI)."""
    options = EmbargoOptions(
        embargo=embargo,
        funding_source=funding_source,
        award_number=award_number,
        embargo_end_date=embargo_end_date,
    )
    return await service.create(session, user=user, body=body, options=options)


@router.get("/{dandiset_id}/", response_model=DandisetDetail)
async def get_dandiset(
    dandiset_id: DandisetId, session: SessionDep, user: MaybeUser
) -> DandisetDetail:
    """One dandiset with its draft and most recent published version."""
    return await service.get(session, dandiset_id=dandiset_id, user=user)


@router.delete("/{dandiset_id}/", status_code=204)
async def delete_dandiset(
    dandiset_id: DandisetId, session: SessionDep, user: ApprovedUser
) -> Response:
    """Delete a dandiset that was never published (owners only)."""
    await service.delete_dandiset(session, user=user, dandiset_id=dandiset_id)
    return Response(status_code=204)


@router.get("/{dandiset_id}/tombstone/", response_model=Tombstone)
async def get_tombstone(dandiset_id: DandisetId, session: SessionDep) -> Tombstone:
    """A deleted dandiset's identifier, name and deletion time (Dandelion's, not DANDI's:
    `GET /api/dandisets/{id}/` answers 404 after a deletion, as DANDI's does). Anyone may
    read it; the name of a dandiset deleted while embargoed is null. 404 if the dandiset
    was never deleted, or exists."""
    return await tombstone.get(session, dandiset_id=dandiset_id)


@router.post("/{dandiset_id}/unembargo/", response_model=None)
async def unembargo(
    dandiset_id: DandisetId, session: SessionDep, user: ApprovedUser
) -> JSONResponse:
    """Start unembargoing an embargoed dandiset (owners and admins): 200 and a null body at
    once; it is UNEMBARGOING, refusing changes, until the job has opened it. 400 when it is
    not EMBARGOED or has unfinished uploads."""
    await embargo.unembargo(session, user, dandiset_id)
    return JSONResponse(None, status_code=200)


@router.get("/{dandiset_id}/users/", response_model=list[Owner])
async def get_owners(dandiset_id: DandisetId, session: SessionDep, user: MaybeUser) -> list[Owner]:
    """The owners; emails only for logged-in callers."""
    return await service.get_owners(session, dandiset_id=dandiset_id, user=user)


@router.put("/{dandiset_id}/users/", response_model=list[Owner])
async def set_owners(
    dandiset_id: DandisetId, session: SessionDep, user: ApprovedUser, body: list[OwnerRef]
) -> list[Owner]:
    """Replace the owner set (it cannot be emptied)."""
    return await service.set_owners(session, user=user, dandiset_id=dandiset_id, refs=body)


@router.post("/{dandiset_id}/star/", response_model=StarCount)
async def star(dandiset_id: DandisetId, session: SessionDep, user: ApprovedUser) -> StarCount:
    """Star a dandiset (idempotent)."""
    return StarCount(count=await service.star(session, user=user, dandiset_id=dandiset_id, on=True))


@router.delete("/{dandiset_id}/star/", response_model=StarCount)
async def unstar(dandiset_id: DandisetId, session: SessionDep, user: ApprovedUser) -> StarCount:
    """Remove the caller's star."""
    return StarCount(
        count=await service.star(session, user=user, dandiset_id=dandiset_id, on=False)
    )


@router.get("/{dandiset_id}/uploads/", response_model=Page[PendingUpload])
async def pending_uploads(
    request: Request,
    dandiset_id: DandisetId,
    session: SessionDep,
    user: AuthenticatedUser,
    resources: ResourcesDep,
    pagination: Pagination,
) -> dict[str, Any]:
    """Unfinished uploads of the draft (owners only)."""
    uploads, count = await service.pending_uploads(
        session,
        user=user,
        dandiset_id=dandiset_id,
        offset=pagination.offset,
        limit=pagination.page_size,
    )
    items = [
        PendingUpload(
            created=u.created,
            blob=resources.storage.object_url(blob_key(u.id, embargoed=u.embargoed)),
            upload_id=str(u.id),
            etag=u.etag,
            size=u.size,
        )
        for u in uploads
    ]
    has_next = pagination.offset + len(items) < count
    return paginate(request, pagination, items, count=count, has_next=has_next)


@router.delete("/{dandiset_id}/uploads/", status_code=204)
async def clear_uploads(
    dandiset_id: DandisetId, session: SessionDep, user: ApprovedUser
) -> Response:
    """Forget every unfinished upload of the draft (owners only)."""
    await service.clear_uploads(session, user=user, dandiset_id=dandiset_id)
    return Response(status_code=204)
