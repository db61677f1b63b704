"""`/`: what the archive holds (counts from `/api/stats/`), recent dandisets, a search box."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from dandelion_common.web.routing import APIRouter
from dandelion_web.client import gather
from dandelion_web.resources import Archive
from dandelion_web.templating import render

router = APIRouter(responses={}, include_in_schema=False)

RECENT = 6


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, archive: Archive) -> HTMLResponse:
    """The home page."""
    stats, recent = await gather(
        archive.api("/stats/"),
        archive.api(
            "/dandisets/",
            {"ordering": "-modified", "draft": "false", "empty": "false", "page_size": RECENT},
        ),
    )
    return render(request, "home.html", {"stats": stats, "recent": recent["results"]})
