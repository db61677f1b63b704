"""`/dandiset/{id}/{version}`: the landing page of a dandiset version, DANDI's web URL that
every DOI and every version's metadata `url` points at.

Three API answers are asked for at once: the dandiset, the version's info and the version
list. The page is whole without JavaScript (the version picker is a GET form whose answer is
a redirect to the chosen version's page).

What a visitor meets when there is no page: a malformed id or version is a 404 before the
API is asked; an unknown dandiset or version is the API's 404. A deleted dandiset is a 410
page naming what was there: when the dandiset route answers 404, the API's tombstone route
is asked (one more call, on that path only; `tombstone.py`). An embargoed dandiset answers
an anonymous caller 401 on every route and says nothing else, so the page says that it is
embargoed and shows nothing of it (not even its name).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dandelion_common.identifiers import DANDISET, VERSION
from dandelion_common.web.routing import APIRouter
from dandelion_web.client import (
    ArchiveClient,
    Params,
    UpstreamNotFound,
    UpstreamRefused,
    gather,
)
from dandelion_web.errors import error_page
from dandelion_web.landing import tombstone, view
from dandelion_web.resources import Resources
from dandelion_web.templating import render

router = APIRouter(responses={}, include_in_schema=False)

T = TypeVar("T")

# Versions in the picker, newest first (DANDI's busiest dandisets have a few dozen).
VERSIONS_LISTED = 100


async def _found(call: Awaitable[T]) -> T | None:
    """The answer, or None when the API answers 404."""
    try:
        return await call
    except UpstreamNotFound:
        return None


def _not_found(request: Request, message: str) -> HTMLResponse:
    return error_page(request, 404, message)


@router.get("/dandiset/{dandiset_id}/{version}", response_class=HTMLResponse)
async def landing(
    request: Request,
    dandiset_id: str,
    version: str,
    resources: Resources,
    chosen: Annotated[str | None, Query(alias="version")] = None,
) -> Response:
    """The landing page of one version of a dandiset."""
    if not DANDISET.match(dandiset_id) or not VERSION.match(version):
        return _not_found(request, "There is no dandiset version at this address.")
    if chosen is not None:  # the picker: even the same version, so its URL is the clean one
        return _chosen(request, dandiset_id, chosen)
    try:
        dandiset, info, versions = await _fetch(resources.archive, dandiset_id, version)
    except UpstreamRefused as refused:
        if refused.status_code not in (401, 403):
            raise
        return _embargoed(request, dandiset_id, refused.status_code)
    if dandiset is None or versions is None:
        await tombstone.raise_if_gone(resources.archive, dandiset_id)
        return _not_found(request, f"There is no dandiset {dandiset_id}.")
    if info is None:
        return _not_found(request, f"Dandiset {dandiset_id} has no version {version}.")
    page: dict[str, Any] = view.context(
        resources.settings,
        identifier=dandiset_id,
        version=version,
        dandiset=dandiset,
        info=info,
        versions=versions,
    )
    return render(request, "landing.html", page)


async def _fetch(archive: ArchiveClient, dandiset_id: str, version: str) -> list[Any]:
    """The dandiset, the version's info and the version list, at once (None if unknown)."""
    base = f"/dandisets/{dandiset_id}"
    newest_first: Params = {"order": "-created", "page_size": VERSIONS_LISTED}
    return await gather(
        _found(archive.api(f"{base}/")),
        _found(archive.api(f"{base}/versions/{version}/info/")),
        _found(archive.api(f"{base}/versions/", newest_first)),
    )


def _chosen(request: Request, dandiset_id: str, chosen: str) -> Response:
    """The version picker's answer: a redirect to the chosen version's own page."""
    if not VERSION.match(chosen):
        return error_page(request, 400, "version: not a version name (draft or 0.YYMMDD.HHMM)")
    return RedirectResponse(f"/dandiset/{dandiset_id}/{chosen}", status_code=303)


def _embargoed(request: Request, dandiset_id: str, status_code: int) -> HTMLResponse:
    # The API answers 401/403 on a GET only for an embargoed dandiset the caller may not read.
    return error_page(
        request,
        status_code,
        f"Dandiset {dandiset_id} is embargoed: until its embargo ends, only its owners "
        "can see its metadata and data.",
    )
