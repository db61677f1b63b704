"""One commit point per request: `CommitRoute` commits after the handler returns and before
the client hears success, then sends the jobs that transaction buffered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.jobs.buffer import flush_committed_jobs
from dandelion_common.web.resources import Resources, get_resources

_SESSION = "db_session"


async def get_session(
    request: Request, resources: Annotated[Resources, Depends(get_resources)]
) -> AsyncIterator[AsyncSession]:
    """The request's session. Never commit in services; `CommitRoute` does it."""
    async with resources.db.session() as session:
        setattr(request.state, _SESSION, session)
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class CommitRoute(APIRoute):
    """Commit the request's session once the handler has produced its response.

    The response is fully rendered first, so a serialization error never follows a commit;
    a failed commit becomes an error response instead of a success the database lost.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_and_commit(request: Request) -> Response:
            response = await handle(request)
            session: AsyncSession | None = getattr(request.state, _SESSION, None)
            if session is not None and session.in_transaction():
                await session.commit()
            if session is not None:
                await flush_committed_jobs(session, get_resources(request).queue)
            return response

        return handle_and_commit
