"""The web application: server-rendered pages at the instance's web URL.

It is a client of the API and the search API (`client.py`), never of the database: the
API decides what a visitor may see. Pages follow DANDI's web URLs, so links, DOIs and the
`dandi` client's web-URL parsing work unchanged.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from dandelion_common import __version__
from dandelion_common.settings import Settings, get_settings
from dandelion_common.web.health import router as health_router
from dandelion_common.web.metrics import install_metrics
from dandelion_common.web.resources import lifespan_for
from dandelion_web.errors import install_error_pages
from dandelion_web.landing import page as landing
from dandelion_web.pages import crawl, dandisets, files, home, meta, search
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
    templates.globals["api_url"] = settings.api.api_url  # public: links a browser follows
    app.state.templates = templates
    install_error_pages(app)
    for page in (home, meta, dandisets, landing, files, search, crawl):
        app.include_router(page.router)
    app.include_router(health_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    # Pages, the stylesheet and htmx compress 4-6x; a landing page's whole weight stays far
    # under its 100 KB budget. Starlette's GZip is pure ASGI (no per-request task).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    install_metrics(app)  # last, so it is outermost and measures every answer
    return app
