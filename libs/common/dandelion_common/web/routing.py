"""One commit point per request, and the project's router that makes it the default.

`CommitRoute` commits after the handler returns and before the client hears success, then
sends the jobs that transaction buffered, and closes the session. The session is opened on
first use (`get_session`), so a request that needs no database (an anonymous
`GET /api/info/`) costs no session at all: opening and closing one was a tenth of such a
request. No route streams a body out of the database, so closing once the handler has
returned frees the connection before the response is sent, not after.

Every router of the project is this module's `APIRouter`, whose routes are `CommitRoute`s: a
write added to any router is committed, never silently rolled back (a lint test refuses
FastAPI's own router outside this module). Each router also declares the errors its routes
answer, so the OpenAPI document says them.

A GET route answers HEAD as GET does, and the HTTP server leaves the body out (DANDI's views
answer HEAD too, through Django): link checkers and scripts ask HEAD. HEAD stays out of the
route's methods, so the OpenAPI document names no HEAD operations; a route of its own for
HEAD on the same path, registered before the GET (decorated below it), answers HEAD instead.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import fastapi
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from dandelion_common.web.resources import app_resources

_SESSION = "db_session"
Responses = dict[int | str, dict[str, Any]]


def request_session(request: Request) -> AsyncSession:
    """The request's session, opened on first use; `CommitRoute` commits and closes it."""
    session: AsyncSession | None = getattr(request.state, _SESSION, None)
    if session is None:
        session = app_resources(request).db.session()
        setattr(request.state, _SESSION, session)
    return session


async def get_session(request: Request) -> AsyncSession:
    """The request's session. Never commit in services; `CommitRoute` does it."""
    return request_session(request)


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class CommitRoute(APIRoute):
    """Commit the request's session once the handler has produced its response.

    The response is fully rendered first, so a serialization error never follows a commit;
    a failed commit becomes an error response instead of a success the database lost.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_and_commit(request: Request) -> Response:
            try:
                response = await handle(request)
                session: AsyncSession | None = getattr(request.state, _SESSION, None)
                if session is not None and session.in_transaction():
                    await session.commit()
                if session is not None:
                    await app_resources(request).send_committed_jobs(session)
                return response
            finally:
                # Rolls back what an error left uncommitted, and returns the connection.
                if (opened := getattr(request.state, _SESSION, None)) is not None:
                    delattr(request.state, _SESSION)
                    await opened.close()

        return handle_and_commit

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return super().matches(_as_get(scope) if self._head_as_get(scope) else scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # GET's status and headers (Content-Length included); the HTTP server sends no body
        # in answer to a HEAD (uvicorn drops it, as HTTP requires, and so does httpx's ASGI
        # transport in tests).
        await super().handle(_as_get(scope) if self._head_as_get(scope) else scope, receive, send)

    def _head_as_get(self, scope: Scope) -> bool:
        methods = self.methods or set()
        return scope.get("method") == "HEAD" and "GET" in methods and "HEAD" not in methods


def _as_get(scope: Scope) -> Scope:
    # A shallow copy: FastAPI's routing state in the scope stays shared with the original.
    return {**scope, "method": "GET"}


class APIRouter(fastapi.APIRouter):
    """FastAPI's router with the project's two rules built in: routes commit (`CommitRoute`),
    and `responses`, the errors every route of the router may answer, must be given
    (`openapi.errors(...)`, or `{}` for none)."""

    def __init__(self, *, responses: Responses, **kwargs: Any) -> None:
        if kwargs.setdefault("route_class", CommitRoute) is not CommitRoute:
            raise TypeError("the project's routes commit: route_class is CommitRoute")
        super().__init__(responses=responses, **kwargs)
