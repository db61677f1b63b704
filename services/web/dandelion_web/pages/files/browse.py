"""`/dandiset/{id}/{version}/files?location=<folder>&page=<n>`: one folder of a version.

The API's folder tree (`/assets/paths/?path_prefix=`) gives a folder's direct children, a
page at a time, with aggregate file counts and sizes; the page asks for one page of it and
never the whole folder, so a folder of 100,000 files costs what a folder of 100 does.
Children come in path order from the API; as DANDI's web app does, folders are shown before
files within a page (a global order would need the API to sort by kind).

Each file's modification time comes in the same answer (`asset.modified`, a field our API
adds to DANDI's), so a page is two API calls whatever the folder holds: the version's info
and one page of the tree. (Asking for each file's record instead cost up to 100 calls.)

A location that names no folder is a 404 page; the root of a version always exists, so an
empty version shows "no files yet" rather than an error.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from dandelion_common.web.routing import APIRouter
from dandelion_web.client import ArchiveClient, Params, UpstreamNotFound, gather
from dandelion_web.pages.files.links import (
    DandisetId,
    VersionId,
    asset_url,
    breadcrumb,
    files_url,
    partial,
    public_api,
)
from dandelion_web.resources import Archive
from dandelion_web.templating import render

router = APIRouter(responses={}, include_in_schema=False)

# Children per page; the API allows up to 1000, 100 is its default and DANDI's page size.
PAGE_SIZE = 100

Location = Annotated[
    str, Query(max_length=1024, description="A folder of the version; empty is its root")
]
PageNumber = Annotated[int, Query(ge=1, le=10**9, description="1-based page number")]


@router.get("/dandiset/{dandiset_id}/{version}/files", response_class=HTMLResponse)
async def files(
    request: Request,
    archive: Archive,
    dandiset_id: DandisetId,
    version: VersionId,
    location: Location = "",
    page: PageNumber = 1,
) -> HTMLResponse:
    """The folders and files of one folder of a version."""
    folder = location.strip("/")
    base = f"/dandisets/{dandiset_id}/versions/{version}"
    info, listing = await gather(
        archive.api(f"{base}/info/"), _children(archive, base, folder, page)
    )
    if listing is None:
        raise HTTPException(404, f"This version has no folder {folder!r}.")
    entries = [_entry(node, folder) for node in listing["results"]]
    entries.sort(key=lambda e: (e["asset_id"] is not None, e["path"]))
    api = public_api(request)
    for entry in entries:
        if entry["asset_id"]:
            entry["page"] = asset_url(dandiset_id, version, entry["asset_id"])
            entry["download"] = f"{api}/assets/{entry['asset_id']}/download/"
        else:
            entry["page"] = files_url(dandiset_id, version, entry["path"])
    count = int(listing["count"] or 0)
    pages = max(1, -(-count // PAGE_SIZE))
    context = {
        "dandiset_id": dandiset_id,
        "version": version,
        "info": info,
        "location": folder,
        "crumbs": [
            (name, files_url(dandiset_id, version, path)) for name, path in breadcrumb(folder)
        ],
        "root_url": files_url(dandiset_id, version),
        "parent_url": files_url(dandiset_id, version, folder.rpartition("/")[0])
        if folder
        else None,
        "entries": entries,
        "count": count,
        "page": page,
        "pages": pages,
        "previous_url": files_url(dandiset_id, version, folder, page - 1) if page > 1 else None,
        "next_url": files_url(dandiset_id, version, folder, page + 1) if listing["next"] else None,
        "partial": partial(request),
    }
    return render(request, "files.html", context, fragment="listing")


async def _children(
    archive: ArchiveClient, base: str, folder: str, page: int
) -> dict[str, Any] | None:
    """A page of the folder's children, or None when the version has no such folder."""
    params: Params = {"path_prefix": folder, "page": page, "page_size": PAGE_SIZE}
    try:
        listing: dict[str, Any] = await archive.api(f"{base}/assets/paths/", params)
    except UpstreamNotFound:
        if page > 1:  # the folder exists but this page is past its end: the API's message
            raise
        return None
    return listing


def _entry(node: dict[str, Any], folder: str) -> dict[str, Any]:
    asset = node.get("asset")
    path = str(node["path"])
    return {
        "path": path,
        "name": path.removeprefix(f"{folder}/") if folder else path,
        "files": node["aggregate_files"],
        "size": node["aggregate_size"],
        "asset_id": str(asset["asset_id"]) if asset else None,
        "modified": asset.get("modified") if asset else None,
    }
