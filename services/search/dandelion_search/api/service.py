"""Translate the HTTP parameters into a `SearchQuery`, run it, and shape the page."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import URL

from dandelion_common.errors import FieldErrors
from dandelion_search.api.schemas import (
    AssetHit,
    AssetSearchParams,
    DandisetHit,
    DandisetSearchParams,
    FacetValue,
    SearchPage,
    SearchParams,
)
from dandelion_search.backends import SearchBackend
from dandelion_search.backends.base import decode_cursor, encode_cursor
from dandelion_search.errors import InvalidCursor
from dandelion_search.schemas import (
    Facet,
    FacetCount,
    Hit,
    Kind,
    Range,
    RangeField,
    SearchQuery,
    SearchResult,
    SortKey,
    Visibility,
)

# Public parameter name of each facet (also the key of its counts in the response).
FACET_PARAMS: dict[Facet, str] = {
    Facet.SPECIES: "species",
    Facet.SEX: "sex",
    Facet.APPROACH: "approach",
    Facet.TECHNIQUE: "technique",
    Facet.VARIABLE: "variable",
    Facet.BRAIN_REGION: "region",
    Facet.NEURODATA_TYPE: "neurodata_type",
    Facet.ENCODING_FORMAT: "encoding_format",
    Facet.DANDISET: "dandiset",
}
# (range, lower parameter, upper parameter)
RANGE_PARAMS = (
    (RangeField.AGE_DAYS, "age_min_days", "age_max_days"),
    (RangeField.SIZE, "size_min", "size_max"),
    (RangeField.ELECTRODE_COUNT, "electrodes_min", "electrodes_max"),
)
SORTS = {
    "relevance": SortKey.RELEVANCE,
    "identifier": SortKey.ID,
    "name": SortKey.NAME,
    "path": SortKey.NAME,
    "size": SortKey.SIZE,
    "modified": SortKey.MODIFIED,
}
INVALID_CURSOR = FieldErrors({"cursor": ["Invalid cursor."]})


def _ranges(params: SearchParams) -> dict[RangeField, Range]:
    ranges: dict[RangeField, Range] = {}
    for field, low_name, high_name in RANGE_PARAMS:
        low, high = getattr(params, low_name), getattr(params, high_name)
        if low is not None and high is not None and low > high:
            raise FieldErrors({high_name: [f"Ensure this value is at least {low_name}."]})
        if low is not None or high is not None:
            ranges[field] = Range(gte=low, lte=high)
    return ranges


# A public cursor holds the backend's cursor with the sort it was made for: the backend's
# sort values mean nothing under another sort, and must never reach the engine as such.
def _wrap_cursor(kind: Kind, sort: str, cursor: str | None) -> str | None:
    return encode_cursor([f"{kind.value}:{sort}", cursor]) if cursor else None


def _unwrap_cursor(kind: Kind, sort: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        tag, inner = decode_cursor(cursor, 2)
    except InvalidCursor:
        raise INVALID_CURSOR from None
    if tag != f"{kind.value}:{sort}" or not isinstance(inner, str):
        raise INVALID_CURSOR
    return inner


def build_query(kind: Kind, params: AssetSearchParams | DandisetSearchParams) -> SearchQuery:
    facets = {facet: frozenset(getattr(params, name)) for facet, name in FACET_PARAMS.items()}
    return SearchQuery(
        kind=kind,
        text=params.q,
        facets={facet: values for facet, values in facets.items() if values},
        ranges=_ranges(params),
        sort=SORTS[params.sort.removeprefix("-")],
        descending=params.sort.startswith("-") if params.sort != "relevance" else None,
        size=params.page_size,
        cursor=_unwrap_cursor(kind, params.sort, params.cursor),
    )


async def _run(backend: SearchBackend, query: SearchQuery, visibility: Visibility) -> SearchResult:
    try:
        return await backend.search(query, visibility)
    except InvalidCursor:
        raise INVALID_CURSOR from None


def _facets(counts: dict[Facet, list[FacetCount]]) -> dict[str, list[FacetValue]]:
    return {
        FACET_PARAMS[facet]: [FacetValue(value=c.value, count=c.count) for c in values]
        for facet, values in counts.items()
    }


def _next_url(page_url: URL, cursor: str | None) -> str | None:
    return str(page_url.include_query_params(cursor=cursor)) if cursor else None


def asset_hit(hit: Hit, api_url: str) -> AssetHit:
    document = hit.document
    return AssetHit.model_validate(
        {
            **document,
            # Versions are listed oldest first and the draft is always the oldest: the last
            # one is the newest published version holding the asset, else the draft.
            "version": document["versions"][-1],
            "download_url": f"{api_url}/assets/{document['asset_id']}/download/",
            "score": hit.score,
            "highlights": hit.highlights,
        }
    )


def dandiset_hit(hit: Hit, api_url: str) -> DandisetHit:
    document = hit.document
    return DandisetHit.model_validate(
        {
            **document,
            "url": f"{api_url}/dandisets/{document['identifier']}/",
            "score": hit.score,
            "highlights": hit.highlights,
        }
    )


async def _page_fields(
    backend: SearchBackend,
    visibility: Visibility,
    kind: Kind,
    params: AssetSearchParams | DandisetSearchParams,
    page_url: URL,
) -> tuple[SearchResult, dict[str, Any]]:
    """Run the search; the page's fields except its hits, which each kind renders."""
    result = await _run(backend, build_query(kind, params), visibility)
    cursor = _wrap_cursor(kind, params.sort, result.next_cursor)
    fields = {
        "count": result.total,
        "count_exact": result.total_exact,
        "next": _next_url(page_url, cursor),
        "cursor": cursor,
        "facets": _facets(result.facets),
        "facets_exact": result.facets_exact,
    }
    return result, fields


async def search_assets(
    backend: SearchBackend,
    visibility: Visibility,
    params: AssetSearchParams,
    *,
    api_url: str,
    page_url: URL,
) -> SearchPage[AssetHit]:
    """One page of assets the caller may see, with facet counts."""
    result, fields = await _page_fields(backend, visibility, Kind.ASSETS, params, page_url)
    return SearchPage[AssetHit](results=[asset_hit(hit, api_url) for hit in result.hits], **fields)


async def search_dandisets(
    backend: SearchBackend,
    visibility: Visibility,
    params: DandisetSearchParams,
    *,
    api_url: str,
    page_url: URL,
) -> SearchPage[DandisetHit]:
    """One page of dandisets the caller may see, with facet counts."""
    result, fields = await _page_fields(backend, visibility, Kind.DANDISETS, params, page_url)
    hits = [dandiset_hit(hit, api_url) for hit in result.hits]
    return SearchPage[DandisetHit](results=hits, **fields)
