"""`/dandiset/{id}/{version}/assets/{asset_id}`: one asset of a version.

From the API's record of the asset in that version (`.../assets/{asset_id}/info/`: its
path, size, blob or zarr, times and metadata document): what the file is, whom and what
it records (metadata.py), links to its raw JSON and its download. The download is the
API's public redirect (`/api/assets/{id}/download/`), which the browser follows to S3.

A zarr asset is many files: its page lists them by folder (`?prefix=<folder>/`, and
`&after=` for the next page, zarr.py), each file with the API's redirect to its bytes. In
a published version the asset's zarr id is its snapshot, whose files are those published.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from dandelion_common.web.routing import APIRouter
from dandelion_web.client import ArchiveClient
from dandelion_web.pages.files import metadata, zarr
from dandelion_web.pages.files.links import (
    AssetId,
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

ZarrPath = Annotated[str, Query(max_length=1024, description="A folder of the zarr")]


@router.get("/dandiset/{dandiset_id}/{version}/assets/{asset_id}", response_class=HTMLResponse)
async def asset_page(
    request: Request,
    archive: Archive,
    dandiset_id: DandisetId,
    version: VersionId,
    asset_id: AssetId,
    prefix: ZarrPath = "",
    after: ZarrPath = "",
) -> HTMLResponse:
    """An asset's page; a zarr's also lists the files of one of its folders."""
    base = f"/dandisets/{dandiset_id}/versions/{version}/assets/{asset_id}"
    info: dict[str, Any] = await archive.api(f"{base}/info/")
    document = info.get("metadata") or {}
    api = public_api(request)
    folder, _, name = str(info["path"]).rpartition("/")
    context: dict[str, Any] = {
        "dandiset_id": dandiset_id,
        "version": version,
        "asset": info,
        "name": name,
        "folder_url": files_url(dandiset_id, version, folder),
        "crumbs": [
            (part, files_url(dandiset_id, version, path)) for part, path in breadcrumb(folder)
        ],
        "root_url": files_url(dandiset_id, version),
        "encoding": document.get("encodingFormat"),
        "digests": metadata.digests(document),
        "content_urls": metadata.content_urls(document),
        "terms": metadata.terms(document),
        "json_url": f"{api}{base}/",
        "download_url": None if info.get("zarr") else f"{api}/assets/{asset_id}/download/",
        "inline_url": None
        if info.get("zarr")
        else f"{api}/assets/{asset_id}/download/?content_disposition=inline",
        "zarr": None,
        "partial": partial(request),
    }
    if not info.get("zarr"):
        return render(request, "asset.html", context)
    context["zarr"] = await _zarr_listing(
        archive, api, str(info["zarr"]), prefix, after, (dandiset_id, version, asset_id)
    )
    return render(request, "asset.html", context, fragment="zarr")


async def _zarr_listing(
    archive: ArchiveClient,
    api: str,
    zarr_id: str,
    prefix: str,
    after: str,
    where: tuple[str, str, str],
) -> dict[str, Any]:
    folder = zarr.normal_prefix(prefix)
    page = await zarr.children(archive, zarr_id, folder, after)
    if not page.children and folder and not after:
        raise HTTPException(404, f"This zarr has no folder {folder.rstrip('/')!r}.")

    def at(path: str, cursor: str = "") -> str:
        return asset_url(*where, prefix=zarr.normal_prefix(path), after=cursor)

    rows = []
    for child in page.children:
        path = f"{folder}{child.name}"
        if child.folder:
            rows.append({"name": child.name, "folder": True, "url": at(path)})
            continue
        query = urlencode({"prefix": path, "download": "true"})
        rows.append(
            {
                "name": child.name,
                "folder": False,
                "size": child.entry.get("Size"),
                "modified": child.entry.get("LastModified"),
                "url": f"{api}/zarr/{zarr_id}/files/?{query}",
            }
        )
    path = folder.rstrip("/")
    return {
        "zarr_id": zarr_id,
        "prefix": path,
        "crumbs": [(part, at(sub)) for part, sub in breadcrumb(path)],
        "root_url": at(""),
        "parent_url": at(path.rpartition("/")[0]) if path else None,
        "first_url": at(path) if after else None,
        "next_url": at(path, page.next_after) if page.next_after else None,
        "rows": rows,
        "after": after,
    }
