"""Pages for machines on the web origin: `/server-info` (how the `dandi` client resolves a
web URL to its API: DANDI's web app proxies it to `/api/info/`)."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from dandelion_common.web.routing import APIRouter
from dandelion_web.resources import Archive

router = APIRouter(responses={}, include_in_schema=False)


@router.get("/server-info")
async def server_info(archive: Archive) -> JSONResponse:
    """The API's info document, which names the API's URL (`services.api.url`)."""
    return JSONResponse(await archive.api("/info/"))
