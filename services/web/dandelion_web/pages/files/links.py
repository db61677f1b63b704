"""What the file pages share: checks of the ids in their URLs, the addresses they link to,
and whether htmx asked for a part of a page.

An id is checked against DANDI's URL patterns before it becomes part of an API path, so a
malformed one is this site's 404 and never a different API address (`..`, `?`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request

from dandelion_common.identifiers import ASSET, DANDISET, VERSION


def dandiset_id(dandiset_id: str) -> str:
    if not DANDISET.match(dandiset_id):
        raise HTTPException(404, f"There is no dandiset {dandiset_id!r}: ids are six digits.")
    return dandiset_id


def version_id(version: str) -> str:
    if not VERSION.match(version):
        raise HTTPException(404, f"There is no version {version!r}: draft or 0.YYMMDD.HHMM.")
    return version


def asset_id(asset_id: str) -> str:
    if not ASSET.match(asset_id):
        raise HTTPException(404, f"There is no asset {asset_id!r}: asset ids are UUIDs.")
    return asset_id


DandisetId = Annotated[str, Depends(dandiset_id)]
VersionId = Annotated[str, Depends(version_id)]
AssetId = Annotated[str, Depends(asset_id)]


def public_api(request: Request) -> str:
    """The API's public URL ending in `/api`: what a visitor's browser reaches (never the
    web service's own address of the API, which may be a cluster-internal name)."""
    url: str = request.app.state.settings.api.api_url
    return url


def files_url(dandiset: str, version: str, location: str = "", page: int = 1) -> str:
    """DANDI's file-browser address of a folder ("" is the root)."""
    query: dict[str, str | int] = {"location": location} if location else {}
    if page > 1:
        query["page"] = page
    base = f"/dandiset/{dandiset}/{version}/files"
    return f"{base}?{urlencode(query)}" if query else base


def asset_url(dandiset: str, version: str, asset: str, **query: str) -> str:
    base = f"/dandiset/{dandiset}/{version}/assets/{asset}"
    kept = {k: v for k, v in query.items() if v}
    return f"{base}?{urlencode(kept)}" if kept else base


def breadcrumb(path: str) -> list[tuple[str, str]]:
    """(name, folder path) of each folder of `path`, top first."""
    parts = [p for p in path.split("/") if p]
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]
