"""The search API application: faceted asset and dandiset search, and health endpoints."""

from __future__ import annotations

from fastapi import FastAPI

from dandelion_common import __version__
from dandelion_common.settings import Settings, get_settings
from dandelion_common.web.cors import Cors
from dandelion_common.web.errors import install_error_handlers
from dandelion_common.web.health import router as health_router
from dandelion_common.web.metrics import install_metrics
from dandelion_common.web.resources import lifespan_for
from dandelion_search.api.resources import SearchResources
from dandelion_search.api.router import router as search_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the search API app; clients are created in the lifespan, not at import."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Dandelion search API",
        version=__version__,
        description="Full-text and faceted search over dandisets and their NWB assets.",
        docs_url="/api/search/docs/",
        redoc_url=None,
        openapi_url="/api/search/docs/openapi.json",
        # PostgreSQL and the search engine (OpenSearch if configured, else PostgreSQL).
        lifespan=lifespan_for(lambda: SearchResources.open(settings)),
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(search_router)
    app.include_router(health_router)
    # Browsers may search from any page (reads only), as on the api.
    app.add_middleware(
        Cors,
        allow_origins=settings.api.cors_origins,
        allow_origin_regex=settings.api.cors_origin_regex,
    )
    install_metrics(app)  # last, so it is outermost and measures every answer
    return app
