"""`/`: what the archive holds (counts from `/api/stats/`), recent dandisets, a search box.

The API computes its counts live, summing every stored blob (about 200 ms at 100,000 assets,
growing with the archive: bench_web), and the home page is the most visited: each process
keeps the counts for `STATS_SECONDS`, as DANDI's own figures lag (by hours, a snapshot).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from dandelion_common.web.routing import APIRouter
from dandelion_web.client import ArchiveClient, gather
from dandelion_web.resources import Archive
from dandelion_web.templating import render

router = APIRouter(responses={}, include_in_schema=False)

RECENT = 6
STATS_SECONDS = 60.0


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, archive: Archive) -> HTMLResponse:
    """The home page."""
    stats, recent = await gather(
        _stats(request, archive),
        archive.api(
            "/dandisets/",
            {"ordering": "-modified", "draft": "false", "empty": "false", "page_size": RECENT},
        ),
    )
    return render(request, "home.html", {"stats": stats, "recent": recent["results"]})


async def _stats(request: Request, archive: ArchiveClient) -> Any:
    kept: tuple[float, Any] | None = getattr(request.app.state, "home_stats", None)
    now = time.monotonic()
    if kept is not None and now - kept[0] < STATS_SECONDS:
        return kept[1]
    stats = await archive.api("/stats/")
    request.app.state.home_stats = (now, stats)
    return stats
