"""DANDI's CORS policy: anyone may read, only configured origins may write.

DANDI (django-cors-headers plus the `cors_allow_anyone_read_only` signal) lets any origin make
GET/HEAD/OPTIONS requests; other methods get CORS headers only for configured origins. Here a
preflight for a write from any other origin gets no CORS headers either, so the browser never
sends the write (DANDI answers that preflight and only hides the write's response).

Reads get `Access-Control-Allow-Origin: *`; allowed writes and preflights get the origin
itself. Every response carries `Vary: Origin`, so caches keep the variants apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
EXPOSE_HEADERS = "Content-Disposition, Location"
MAX_AGE_SECONDS = 86400  # django-cors-headers' default
# Header names a preflight may ask for (RFC 9110 tokens), comma separated.
_HEADER_LIST = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$")


class Cors:
    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Sequence[str] = (),
        allow_origin_regex: str | None = None,
        max_age: int = MAX_AGE_SECONDS,
    ) -> None:
        self.app = app
        self.allow_origins = frozenset(o.rstrip("/") for o in allow_origins)
        self.allow_origin_regex = re.compile(allow_origin_regex) if allow_origin_regex else None
        self.max_age = max_age

    def may_write(self, origin: str) -> bool:
        if origin in self.allow_origins or "*" in self.allow_origins:
            return True
        return bool(self.allow_origin_regex and self.allow_origin_regex.fullmatch(origin))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        method = scope["method"]
        if (
            origin is not None
            and method == "OPTIONS"
            and "access-control-request-method" in headers
        ):
            await self.preflight(origin, headers, send)
            return

        allow_origin: str | None = None
        if origin is not None:
            if method in READ_METHODS:
                allow_origin = "*"
            elif self.may_write(origin):
                allow_origin = origin

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers.add_vary_header("Origin")
                if allow_origin is not None:
                    response_headers["Access-Control-Allow-Origin"] = allow_origin
                    response_headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def preflight(self, origin: str, headers: Headers, send: Send) -> None:
        """Answer the preflight here: the routes know nothing of OPTIONS."""
        requested = headers["access-control-request-method"].strip().upper()
        vary = b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        response_headers = [(b"content-length", b"0"), (b"vary", vary)]
        if requested in READ_METHODS or self.may_write(origin):
            methods = ALL_METHODS if self.may_write(origin) else sorted(READ_METHODS)
            allow = [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Methods", ", ".join(methods)),
                ("Access-Control-Max-Age", str(self.max_age)),
            ]
            asked = headers.get("access-control-request-headers", "").strip()
            if asked and _HEADER_LIST.match(asked):
                allow.append(("Access-Control-Allow-Headers", asked))
            response_headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in allow]
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})
