"""`/search`: faceted search of assets or dandisets, a thin client of the search API.

The URL holds the whole search (`query.py`); the page asks the search API for this kind's
page and, at the same time, for the other kind's count (the switch between them shows both).
Under htmx (`HX-Request`) only the results block is answered, and `HX-Push-Url` puts the
canonical URL of the search in the browser's history; a history restore gets the whole page.

Invalid input is answered 400 with the form as typed and each problem beside its field.
htmx does not swap a 400, so an htmx request for one is sent to the same URL as a full page
(`HX-Redirect`), where the browser shows it.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse

from dandelion_common.web.routing import APIRouter
from dandelion_web.client import UpstreamRefused, gather
from dandelion_web.pages.search.query import KINDS, Parsed, parse
from dandelion_web.pages.search.view import invalid_context, results_context
from dandelion_web.resources import Archive
from dandelion_web.templating import is_htmx, render

router = APIRouter(responses={}, include_in_schema=False)

STALE_CURSOR = (
    "This page link does not belong to this search (the search changed, or the link was "
    "cut short). Start again from the first page."
)


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request, archive: Archive) -> HTMLResponse:
    """The search page."""
    parsed = parse(request.query_params.multi_items())
    if parsed.errors:
        return _invalid(request, parsed, parsed.errors)
    state = parsed.state
    other = next(kind for kind in KINDS if kind != state.kind)
    try:
        page, other_page = await gather(
            archive.search(f"/{state.kind}/", state.api_params()),
            archive.search(f"/{other}/", state.api_params(other)),
        )
    except UpstreamRefused as refused:
        if refused.status_code != 400:
            raise
        return _invalid(request, parsed, _refusal(parsed, refused.message))
    headers = {"HX-Push-Url": state.url} if is_htmx(request) else None
    context = results_context(parsed, page, other_page)
    return render(request, "search.html", context, fragment="results", headers=headers)


def _refusal(parsed: Parsed, message: str) -> dict[str, str]:
    # The page checks everything it sends but the cursor, which only the API can read.
    if parsed.state.cursor and "cursor" in message:
        return {"cursor": STALE_CURSOR}
    return {"form": f"The search service refused this search: {message}"}


def _invalid(request: Request, parsed: Parsed, errors: Mapping[str, str]) -> HTMLResponse:
    headers = None
    if is_htmx(request):
        query = request.url.query
        headers = {"HX-Redirect": f"{request.url.path}?{query}" if query else request.url.path}
    return render(
        request,
        "search.html",
        invalid_context(parsed, errors),
        status_code=400,
        fragment="results",
        headers=headers,
    )
