"""The DANDI-compatible REST API application."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from dandelion_api.info.router import root_router as info_root_router
from dandelion_api.info.router import router as info_router
from dandelion_common import __version__
from dandelion_common.schema import configure_dandischema
from dandelion_common.settings import Settings, get_settings
from dandelion_common.web.errors import install_error_handlers
from dandelion_common.web.health import router as health_router
from dandelion_common.web.resources import lifespan_for


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
        lifespan=lifespan_for(settings, service="api"),
    )
    app.state.settings = settings
    install_error_handlers(app)
    api = APIRouter(prefix="/api")
    api.include_router(info_router)
    app.include_router(api)
    app.include_router(info_root_router)
    app.include_router(health_router)
    return app
