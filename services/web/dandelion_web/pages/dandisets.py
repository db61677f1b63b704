"""`/dandiset/` (public dandisets), `/dandiset/search` (search results) and `/dandiset/{id}`.

The query parameters are DANDI's web app's (`DandisetsPage.vue`), so its shared links open
the same list here: `sortOption` indexes DANDI's sorting options (0 modified, 1 identifier,
2 name, 3 size, 4 stars: our API orders by stars too, so 4 is honoured, not dropped),
`sortDir` is -1 or 1, `showDrafts`/`showEmpty` are "true"/"false", `page` is 1-based and
`search` is DANDI's query syntax, passed to the API as is. The defaults are DANDI's: drafts
shown, empty dandisets hidden on the public list and shown on the search page, newest first.

The form works without JavaScript: each checkbox follows a hidden "false" of the same name,
so an unticked box still says false and a ticked one sends "false" then "true" (any "true"
wins). With htmx the form and the pager fetch only the results block and push the URL, so
the address always holds the state. A parameter DANDI's app would never send is a 400 page
naming it; a page past the end is a 404, as the API answers (search engines drop it, and a
stale link says plainly that the list is shorter now).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import QueryParams

from dandelion_common.identifiers import DANDISET
from dandelion_common.web.routing import APIRouter
from dandelion_web.client import UpstreamNotFound, UpstreamRefused
from dandelion_web.landing.tombstone import raise_if_gone
from dandelion_web.resources import Archive
from dandelion_web.templating import is_htmx, render

router = APIRouter(responses={}, include_in_schema=False)

PAGE_SIZE = 25
# DANDI's `sortingOptions`, in its order: the index is what `sortOption` carries.
SORT_OPTIONS = (
    ("Modified", "modified"),
    ("Identifier", "id"),
    ("Name", "name"),
    ("Size", "size"),
    ("Stars", "stars"),
)
_BOOLEANS = {"true": True, "false": False}
# Around the current page, and always the first and the last.
PAGER_RADIUS = 2


@dataclass(frozen=True)
class ListQuery:
    """What one list page shows, parsed from DANDI's query parameters."""

    search: str
    sort_option: int
    sort_dir: int
    show_drafts: bool
    show_empty: bool
    page: int

    @classmethod
    def parse(cls, params: QueryParams, *, searching: bool) -> ListQuery:
        """The list's state, or an HTTP 400 naming the first bad parameter."""
        return cls(
            search=(params.get("search") or "").strip(),
            sort_option=_choice(params, "sortOption", range(len(SORT_OPTIONS)), default=0),
            sort_dir=_choice(params, "sortDir", (-1, 1), default=-1),
            show_drafts=_boolean(params, "showDrafts", default=True),
            show_empty=_boolean(params, "showEmpty", default=searching),
            page=_page(params),
        )

    def api_params(self) -> dict[str, str | int | None]:
        field = SORT_OPTIONS[self.sort_option][1]
        return {
            "page": self.page,
            "page_size": PAGE_SIZE,
            "ordering": ("-" if self.sort_dir == -1 else "") + field,
            "draft": "true" if self.show_drafts else "false",
            "empty": "true" if self.show_empty else "false",
            "search": self.search or None,
        }

    def url(self, path: str, page: int) -> str:
        """This list at `page`, every parameter spelled out (the URL is the state)."""
        query: dict[str, str | int] = {"search": self.search} if self.search else {}
        query |= {
            "sortOption": self.sort_option,
            "sortDir": self.sort_dir,
            "showDrafts": "true" if self.show_drafts else "false",
            "showEmpty": "true" if self.show_empty else "false",
            "page": page,
        }
        return f"{path}?{urlencode(query)}"


def _bad(name: str, value: str, expected: str) -> HTTPException:
    return HTTPException(400, f"The parameter {name}={value!r} is not valid: {expected}.")


def _integer(params: QueryParams, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not re.fullmatch(r"-?\d{1,18}", value):
        raise _bad(name, value[:40], "it must be a whole number")
    return int(value)


def _choice(params: QueryParams, name: str, allowed: range | tuple[int, ...], default: int) -> int:
    number = _integer(params, name)
    if number is None:
        return default
    if number not in allowed:
        raise _bad(name, str(number), "it must be one of " + ", ".join(map(str, allowed)))
    return number


def _boolean(params: QueryParams, name: str, *, default: bool) -> bool:
    values = params.getlist(name)
    if not values:
        return default
    for value in values:
        if value.lower() not in _BOOLEANS:
            raise _bad(name, value[:40], "it must be true or false")
    # The hidden "false" comes first; a ticked box adds "true" after it.
    return any(_BOOLEANS[value.lower()] for value in values)


def _page(params: QueryParams) -> int:
    number = _integer(params, "page")
    if number is None:
        return 1
    if number < 1:
        raise _bad("page", str(number), "pages are numbered from 1")
    return number


@dataclass(frozen=True)
class Row:
    """One dandiset as the list shows it: its most recent published version, else its draft."""

    identifier: str
    name: str
    version: str
    contact_person: str
    modified: str | None
    asset_count: int | None
    size: int | None
    embargo_status: str

    @classmethod
    def of(cls, item: dict[str, Any]) -> Row:
        shown = item.get("most_recent_published_version") or item.get("draft_version") or {}
        return cls(
            identifier=item["identifier"],
            name=shown.get("name") or "Untitled dandiset",
            version=shown.get("version", "draft"),
            contact_person=item.get("contact_person") or "",
            modified=shown.get("modified") or item.get("modified"),
            asset_count=shown.get("asset_count"),
            size=shown.get("size"),
            embargo_status=item.get("embargo_status", "OPEN"),
        )


def pager(current: int, pages: int) -> list[int | None]:
    """Page numbers to link, None where a run of them is left out."""
    near = range(max(1, current - PAGER_RADIUS), min(pages, current + PAGER_RADIUS) + 1)
    shown = sorted({1, pages, *near})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


async def _list_page(request: Request, archive: Archive, *, searching: bool) -> HTMLResponse:
    query = ListQuery.parse(request.query_params, searching=searching)
    path = "/dandiset/search" if searching else "/dandiset/"
    context: dict[str, Any] = {
        "query": query,
        "path": path,
        "searching": searching or bool(query.search),
        "heading": "Search dandisets" if searching else "Public dandisets",
        "sort_options": [name for name, _ in SORT_OPTIONS],
        "search_error": None,
    }
    status_code = 200
    try:
        body = await archive.api("/dandisets/", query.api_params())
    except UpstreamRefused as exc:
        if not query.search:
            raise
        # DANDI's app shows a query it cannot parse inline, above an empty list. A fragment
        # stays 200: htmx swaps no 4xx answer, so the message would never reach the page.
        body = {"count": 0, "results": []}
        context["search_error"] = exc.message
        status_code = 200 if is_htmx(request) else 400
    except UpstreamNotFound:
        if query.page == 1:
            raise
        raise HTTPException(404, f"Page {query.page} is past the end of this list.") from None
    count = int(body.get("count") or 0)
    pages = max(1, -(-count // PAGE_SIZE))
    context |= {
        "count": count,
        "rows": [Row.of(item) for item in body["results"]],
        "pages": pages,
        "pager": pager(min(query.page, pages), pages),
    }
    return render(request, "dandisets.html", context, status_code=status_code, fragment="results")


@router.get("/dandiset", response_class=HTMLResponse)
@router.get("/dandiset/", response_class=HTMLResponse)
async def public_dandisets(request: Request, archive: Archive) -> HTMLResponse:
    """The public dandisets, sorted and filtered as DANDI's web app does."""
    return await _list_page(request, archive, searching=False)


@router.get("/dandiset/search", response_class=HTMLResponse)
async def search_dandisets(request: Request, archive: Archive) -> HTMLResponse:
    """DANDI's search results: the list with `?search=` applied and empty dandisets shown."""
    return await _list_page(request, archive, searching=True)


@router.get("/dandiset/{identifier}")
async def dandiset(identifier: str, archive: Archive) -> RedirectResponse:
    """The dandiset's most recent published version, else its draft (a 302, as DANDI); a
    deleted one's tombstone (410)."""
    if not DANDISET.fullmatch(identifier):
        raise HTTPException(404, f"There is no dandiset {identifier[:40]!r}.")
    try:
        found = await archive.api(f"/dandisets/{identifier}/")
    except UpstreamNotFound:
        await raise_if_gone(archive, identifier)  # a deleted one is a 410, not a 404
        raise
    published = found.get("most_recent_published_version")
    version = published["version"] if published else "draft"
    return RedirectResponse(f"/dandiset/{identifier}/{version}", status_code=302)
