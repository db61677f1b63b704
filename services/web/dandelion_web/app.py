"""The web application: server-rendered pages at the instance's web URL.

It is a client of the API and the search API (`client.py`), never of the database: the
API decides what a visitor may see. Pages follow DANDI's web URLs, so links, DOIs and the
`dandi` client's web-URL parsing work unchanged.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dandelion_common import __version__
from dandelion_common.settings import Settings, get_settings
from dandelion_common.web.health import router as health_router
from dandelion_common.web.metrics import install_metrics
from dandelion_common.web.resources import lifespan_for
from dandelion_web.errors import install_error_pages
from dandelion_web.pages import home, meta, search
from dandelion_web.resources import WebResources
from dandelion_web.security import SecurityHeaders
from dandelion_web.templating import environment

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app; its API client is created in the lifespan, not at import."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Dandelion web",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan_for(lambda: WebResources.open(settings)),
    )
    app.state.settings = settings
    templates = environment()
    templates.globals["instance"] = settings.instance
    app.state.templates = templates
    install_error_pages(app)
    for page in (home, meta, search):
        app.include_router(page.router)
    app.include_router(health_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    install_metrics(app)  # last, so it is outermost and measures every answer
    return app
