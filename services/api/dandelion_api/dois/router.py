"""`/api/dandisets/{id}/dois/`: the state of a dandiset's DOIs (beyond DANDI)."""

from __future__ import annotations

from dandelion_api.auth.dependencies import MaybeUser
from dandelion_api.dois import service
from dandelion_api.dois.schemas import DoiOut
from dandelion_api.params import DandisetId
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

router = APIRouter(prefix="/dandisets/{dandiset_id}/dois", tags=["dois"], responses={})


@router.get("/", response_model=list[DoiOut], responses=errors(403, 404))
async def list_dois(dandiset_id: DandisetId, session: SessionDep, user: MaybeUser) -> list[DoiOut]:
    """The concept DOI and each published version's DOI: the target DataCite should hold,
    the state it held when last asked, and its refusal if any. A DOI is registered
    asynchronously after a publish; `synced` tells when DataCite last matched."""
    return await service.list_dois(session, dandiset_id=dandiset_id, user=user)
