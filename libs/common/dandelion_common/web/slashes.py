"""DANDI's APPEND_SLASH: a slashless GET/HEAD of a slashed route answers 301 to it.

Starlette's own slash redirect answers 307; DANDI (Django) answers 301, and clients such as
dandi-cli call `GET /api/auth/token` without the slash. Other methods keep Starlette's 307,
which preserves the method and body instead of turning a POST into a GET.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PermanentSlashRedirect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def send_301(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 307:
                location = dict(message.get("headers", [])).get(b"location", b"")
                if location.split(b"?")[0].endswith(scope["path"].encode() + b"/"):
                    message = {**message, "status": 301}
            await send(message)

        await self.app(scope, receive, send_301)
