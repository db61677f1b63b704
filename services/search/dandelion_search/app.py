"""The search API application (search endpoints arrive with the search issue)."""

from __future__ import annotations

from fastapi import FastAPI

from dandelion_common import __version__
from dandelion_common.settings import Settings, get_settings
from dandelion_common.web.errors import install_error_handlers
from dandelion_common.web.health import router as health_router
from dandelion_common.web.resources import lifespan_for


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Dandelion search API",
        version=__version__,
        docs_url="/api/search/docs/",
        redoc_url=None,
        openapi_url="/api/search/docs/openapi.json",
        lifespan=lifespan_for(settings, service="search-api"),
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health_router)
    return app
