"""The DANDI-compatible REST API application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse

from dandelion_api.assets.router import nested as assets_router
from dandelion_api.assets.router import top_level as top_level_assets_router
from dandelion_api.auth.dependencies import get_current_user
from dandelion_api.dandisets.router import router as dandisets_router
from dandelion_api.dois.router import router as dois_router
from dandelion_api.info.router import root_router as info_root_router
from dandelion_api.info.router import router as info_router
from dandelion_api.meta.router import router as meta_router
from dandelion_api.resources import ApiResources
from dandelion_api.search.router import router as search_router
from dandelion_api.uploads.router import router as uploads_router
from dandelion_api.users.router import auth_router as users_auth_router
from dandelion_api.users.router import router as users_router
from dandelion_api.versions.router import router as versions_router
from dandelion_api.webdav.router import router as webdav_router
from dandelion_api.zarr.router import router as zarr_router
from dandelion_common import __version__
from dandelion_common.schema import configure_dandischema
from dandelion_common.settings import Settings, get_settings
from dandelion_common.web.cors import Cors
from dandelion_common.web.errors import install_error_handlers
from dandelion_common.web.health import router as health_router
from dandelion_common.web.inputs import refuse_unsafe_input
from dandelion_common.web.limits import BodySizeLimit
from dandelion_common.web.metrics import install_metrics
from dandelion_common.web.openapi import errors
from dandelion_common.web.resources import lifespan_for
from dandelion_common.web.routing import APIRouter
from dandelion_common.web.slashes import PermanentSlashRedirect

# DANDI's documentation addresses (drf-yasg's Swagger UI, and the old top-level ones it
# redirects), each a permanent redirect to the same page of ours in one hop.
DOCS_ALIASES = {
    "/api/docs/swagger/": "/api/docs/",
    "/swagger/": "/api/docs/",
    "/redoc/": "/api/docs/redoc/",
}


# Every `/api/...` route, one router per bounded context, in matching order.
CONTEXT_ROUTERS: tuple[APIRouter, ...] = (
    info_router,
    users_auth_router,
    users_router,
    meta_router,
    search_router,  # before dandisets: `/dandisets/search/` is no dandiset id
    dandisets_router,
    versions_router,
    dois_router,
    uploads_router,
    assets_router,
    top_level_assets_router,
    webdav_router,
    zarr_router,
)


def include_api_routers(app: FastAPI) -> None:
    """Every `/api/...` route, each context's router included in the app itself.

    The caller is resolved on every route, as DRF does: a wrong key is a 401 even on routes
    that need no authentication. The routers are included directly rather than under one
    `/api` router: FastAPI matches an included router's routes again at each level of
    nesting: one level less is a sixth of the CPU time of a request to `/api/info/`.
    """
    for router in CONTEXT_ROUTERS:
        app.include_router(
            router,
            prefix="/api",
            dependencies=[Depends(get_current_user), Depends(refuse_unsafe_input)],
            # Any route: an unknown key (401), a body over the limit (413).
            responses=errors(401, 413),
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API app; clients are created in the lifespan, not at import."""
    settings = settings or get_settings()
    configure_dandischema(settings.instance)
    app = FastAPI(
        title="Dandelion API",
        version=__version__,
        description="A DANDI-compatible archive for neurophysiology data.",
        docs_url="/api/docs/",
        redoc_url="/api/docs/redoc/",
        openapi_url="/api/docs/openapi.json",
        lifespan=lifespan_for(lambda: ApiResources.open(settings)),
    )
    app.state.settings = settings
    install_error_handlers(app)
    include_api_routers(app)
    app.include_router(info_root_router)
    app.include_router(health_router)
    for alias, target in DOCS_ALIASES.items():
        app.add_route(alias, _redirect_to(target), include_in_schema=False)
    app.add_middleware(PermanentSlashRedirect)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(
        Cors,
        allow_origins=settings.api.cors_origins,
        allow_origin_regex=settings.api.cors_origin_regex,
    )
    install_metrics(app)  # last, so it is outermost and measures every answer
    return app


def _redirect_to(target: str) -> Callable[[Request], Awaitable[RedirectResponse]]:
    async def redirect(_: Request) -> RedirectResponse:
        return RedirectResponse(target, status_code=301)

    return redirect
