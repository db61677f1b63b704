"""`/healthz` (the process answers) and `/readyz` (every backing service of this process
answers: each app's resources name theirs)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends
from fastapi.responses import JSONResponse

from dandelion_common.web.resources import Probe, Ready, ready_resources
from dandelion_common.web.routing import APIRouter

router = APIRouter(tags=["health"], responses={})

CHECK_TIMEOUT_SECONDS = 2.0


async def _check(probe: Probe) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; report it
        return f"error: {type(exc).__name__}: {exc}"[:300]
    return "ok"


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """Liveness: the process is serving requests."""
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(resources: Annotated[Ready, Depends(ready_resources)]) -> JSONResponse:
    """Readiness: every backing service this process uses answers within the timeout, else
    503. Only those: an outage of a service it does not use must not take it out of service."""
    probes = resources.readiness()
    results = await asyncio.gather(*(_check(probe) for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    ready = all(result == "ok" for result in results)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
