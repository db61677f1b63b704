"""The files of a dandiset version: the folder browser at DANDI's own URL
(`/dandiset/{id}/{version}/files?location=<folder>`, `browse.py`) and a page per asset
(`/dandiset/{id}/{version}/assets/{asset_id}`, `asset.py`), which also browses a zarr's
files (`zarr.py`).

DANDI's web app has no asset page (its file browser opens the API's JSON); ours mirrors the
API's nested address, `/api/dandisets/{id}/versions/{version}/assets/{asset_id}/`, without
`/api` and `versions`, so one can be read from the other.
"""

from __future__ import annotations

from dandelion_common.web.routing import APIRouter
from dandelion_web.pages.files import asset, browse

router = APIRouter(responses={}, include_in_schema=False)
router.include_router(browse.router)
router.include_router(asset.router)
