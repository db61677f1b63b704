"""The peers for request-handling overhead, answering fixed JSON bytes (`PEER_BODY`): `app`,
a bare ASGI app (uvicorn's own cost), and `fastapi_app`, one FastAPI route and nothing else
(the framework's floor)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Response

BODY = os.environ.get("PEER_BODY", "{}").encode()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


fastapi_app = FastAPI(openapi_url=None)


@fastapi_app.get("/")
async def document() -> Response:
    return Response(BODY, media_type="application/json")
