"""`/api/uploads/...`: DANDI's upload protocol."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path

from dandelion_api.auth.dependencies import ApprovedUser
from dandelion_api.resources import ResourcesDep
from dandelion_api.uploads import service
from dandelion_api.uploads.schemas import (
    BlobOut,
    CompleteRequest,
    CompleteResponse,
    InitializeRequest,
    InitializeResponse,
)
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

router = APIRouter(
    prefix="/uploads",
    tags=["uploads"],
    # Not an owner, an unknown dandiset or upload (or an embargoed one of others).
    responses=errors(403, 404),
)

UploadId = Annotated[uuid.UUID, Path(description="The upload's UUID")]


@router.post("/initialize/", response_model=InitializeResponse, responses=errors(409))
async def initialize(
    body: InitializeRequest, session: SessionDep, user: ApprovedUser, resources: ResourcesDep
) -> InitializeResponse:
    """Start a multipart upload: the dandi-etag part plan with a presigned URL per part.

    409 with the blob's id in `Location` when equal bytes are a blob this dandiset may use
    already: an open blob, or one embargoed in this dandiset. Another dandiset's embargoed
    blob is never named; those bytes are uploaded again as a blob of this dandiset's own."""
    return await service.initialize(session, resources.storage, user=user, body=body)


@router.post("/{upload_id}/complete/", response_model=CompleteResponse)
async def complete(
    upload_id: UploadId,
    body: CompleteRequest,
    session: SessionDep,
    user: ApprovedUser,
    resources: ResourcesDep,
) -> CompleteResponse:
    """The presigned CompleteMultipartUpload URL and the XML body to POST to it."""
    return await service.complete(
        session, resources.storage, user=user, upload_id=upload_id, body=body
    )


@router.post("/{upload_id}/validate/", response_model=BlobOut, responses=errors(409))
async def validate(
    upload_id: UploadId, session: SessionDep, user: ApprovedUser, resources: ResourcesDep
) -> BlobOut:
    """Check the uploaded object's size and ETag and turn it into a blob."""
    return await service.validate(session, resources.storage, user=user, upload_id=upload_id)
