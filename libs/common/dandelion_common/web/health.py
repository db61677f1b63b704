"""`/healthz` (the process answers) and `/readyz` (PostgreSQL, Redis and S3 answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dandelion_common.web.resources import ResourcesDep

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 2.0


async def _check(probe: Callable[[], Awaitable[None]]) -> str:
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
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """Readiness: every backing service answers within the timeout, else 503."""
    names = ("postgres", "redis", "s3")
    results = await asyncio.gather(
        _check(resources.db.ping), _check(resources.queue.ping), _check(resources.storage.ping)
    )
    checks = dict(zip(names, results, strict=True))
    ready = all(result == "ok" for result in results)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
