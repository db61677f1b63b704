"""`GET /api/info/`, `GET /server-info`, and `/` (to the web pages)."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from dandelion_api.info.schemas import ServerInfo
from dandelion_api.info.service import server_info
from dandelion_common.web.routing import APIRouter

router = APIRouter(tags=["info"], responses={})
root_router = APIRouter(include_in_schema=False, responses={})


def info_document(request: Request) -> bytes:
    """The rendered document, built once per app: it only changes with the settings.

    Read by the handlers themselves, not as a dependency: resolving one costs FastAPI more
    than the rest of the handler.
    """
    state = request.app.state
    if getattr(state, "info_document", None) is None:
        info = server_info(state.settings)
        state.info_document = info.model_dump_json(by_alias=True).encode()
    document: bytes = state.info_document
    return document


@router.get("/info/", response_model=ServerInfo, response_class=Response)
async def get_info(request: Request) -> Response:
    """Server information: schema version, service URLs and supported client versions."""
    return Response(info_document(request), media_type="application/json")


@root_router.get("/server-info", response_class=Response)
async def get_server_info(request: Request) -> Response:
    """The same document at the address the dandi client tries first for a bare URL."""
    return Response(info_document(request), media_type="application/json")


@root_router.get("/", response_class=RedirectResponse, status_code=302)
async def to_the_web(request: Request) -> RedirectResponse:
    """The API origin's root leads people to the web pages (the instance's web URL)."""
    return RedirectResponse(f"{request.app.state.settings.instance.web_url}/", status_code=302)
