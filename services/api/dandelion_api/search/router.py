"""DANDI's search routes: `/api/dandisets/search/` and the `/api/search/...` helpers.

Included before the dandisets router, whose `/dandisets/{dandiset_id}/` would else take
`/dandisets/search/`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from dandelion_api.auth.dependencies import MaybeUser
from dandelion_api.dandisets.repository import ListFilters
from dandelion_api.pagination import Page, Pagination, paginate
from dandelion_api.search import service
from dandelion_api.search.repository import AssetFacets
from dandelion_api.search.schemas import DandisetSearchResult
from dandelion_common.web.openapi import errors
from dandelion_common.web.routing import APIRouter, SessionDep

router = APIRouter(tags=["search"], responses={})

Many = Annotated[list[str], Query()]


# 404: a page past the last one.
@router.get("/dandisets/search/", response_model=Page[DandisetSearchResult], responses=errors(404))
async def search_dandisets(
    request: Request,
    session: SessionDep,
    user: MaybeUser,
    pagination: Pagination,
    draft: bool = True,
    empty: bool = True,
    embargoed: bool = False,
    user_filter: Annotated[str | None, Query(alias="user", description="`me`: only mine")] = None,
    starred: bool = False,
    search: Annotated[str | None, Query(description="DANDI's search syntax")] = None,
    ordering: Annotated[str | None, Query(pattern=r"^-?(id|name|modified|size|stars)$")] = None,
    file_type: Many = [],  # noqa: B006 (FastAPI copies defaults per request)
    file_size_min: Annotated[int | None, Query(ge=0)] = None,
    file_size_max: Annotated[int | None, Query(ge=0)] = None,
    measurement_technique: Many = [],  # noqa: B006
    genotype: Many = [],  # noqa: B006
    species: Many = [],  # noqa: B006
) -> dict[str, Any]:
    """Dandisets holding an asset that passes every facet, with per-facet asset counts."""
    filters = ListFilters(
        draft=draft,
        empty=empty,
        embargoed=embargoed,
        mine=user_filter == "me",
        starred=starred,
        ordering=ordering,
    )
    facets = AssetFacets(
        file_type=tuple(file_type),
        file_size_min=file_size_min,
        file_size_max=file_size_max,
        genotype=tuple(genotype),
        species=tuple(species),
        measurement_technique=tuple(measurement_technique),
    )
    items, count = await service.search_dandisets(
        session,
        filters=filters,
        facets=facets,
        user=user,
        search=search,
        offset=pagination.offset,
        limit=pagination.page_size,
    )
    has_next = pagination.offset + len(items) < count
    return paginate(request, pagination, items, count=count, has_next=has_next)


@router.get("/search/species/", response_model=Page[str], responses=errors(404))
async def search_species(
    request: Request,
    session: SessionDep,
    user: MaybeUser,
    pagination: Pagination,
    species: Annotated[str | None, Query(description="A substring, any case")] = None,
) -> dict[str, Any]:
    """Distinct species of visible assets (paginated, as DANDI)."""
    names = await service.species(session, user=user, contains=species)
    page = names[pagination.offset :][: pagination.page_size]
    has_next = pagination.offset + len(page) < len(names)
    return paginate(request, pagination, page, count=len(names), has_next=has_next)


@router.get("/search/genotypes/", response_model=list[str])
async def search_genotypes(
    session: SessionDep,
    user: MaybeUser,
    genotype: Annotated[str | None, Query(description="A substring, any case")] = None,
) -> list[str]:
    """Up to 10 distinct genotypes of visible assets (not paginated, as DANDI)."""
    return await service.genotypes(session, user=user, contains=genotype)
