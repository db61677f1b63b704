"""DANDI's page-number pagination (and the lazy variant of the asset list).

`next`/`previous` are absolute URLs that differ from the request only in `page`; the dandi
client relies on that to fetch pages 2..N in parallel. Going back to page 1 drops `page`.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from dandelion_common.errors import NotFound

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 2**63 - 1

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    count: int | None
    next: str | None
    previous: str | None
    results: list[T]


class PageParams(BaseModel):
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


async def page_params(
    page: Annotated[int, Query(ge=1, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, description="Page size, at most 1000")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    # DRF clamps an oversized page_size to the maximum rather than refusing it.
    params = PageParams(page=page, page_size=min(page_size, MAX_PAGE_SIZE))
    if params.offset > MAX_OFFSET:
        # Past the end of any listing, and past what PostgreSQL's OFFSET (a bigint) takes.
        raise NotFound("Invalid page.")
    return params


Pagination = Annotated[PageParams, Depends(page_params)]


def _page_url(request: Request, page: int) -> str:
    if page == 1:
        return str(request.url.remove_query_params("page"))
    return str(request.url.include_query_params(page=page))


def paginate(
    request: Request, params: PageParams, results: list[Any], *, count: int | None, has_next: bool
) -> dict[str, Any]:
    """The envelope; a page past the end is a 404 as in DRF (page 1 always exists)."""
    if params.page > 1 and not results:
        raise NotFound("Invalid page.")
    return {
        "count": count,
        "next": _page_url(request, params.page + 1) if has_next else None,
        "previous": _page_url(request, params.page - 1) if params.page > 1 else None,
        "results": results,
    }
