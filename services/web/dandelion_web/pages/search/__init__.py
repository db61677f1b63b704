"""The search page (`/search`): URL state (`query`), facets and chips (`facets`), hits
(`results`), the template's context (`view`) and the route (`router`)."""

from dandelion_web.pages.search.router import router

__all__ = ["router"]
