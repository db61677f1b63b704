"""Engine and session factory. Services take a session and never commit; the request
dependency or the job runner is the one commit point."""

from __future__ import annotations

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool

from dandelion_common.db.turns import Turns
from dandelion_common.settings import PostgresSettings

# SQLSTATE classes of a server going away, out of resources or cancelling a statement (its
# timeout): psycopg raises them as OperationalError, SQLAlchemy's asyncpg dialect as a bare
# DBAPIError, which the API would answer with a 500 and a job would not retry.
TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57")
# Of those, the ones after which the connection is dead: shutdown, crash, not yet started.
CONNECTION_GONE = ("57P01", "57P02", "57P03")


def _sqlstate(exc: BaseException | None) -> str | None:
    while exc is not None:
        if isinstance(exc, asyncpg.PostgresError):
            return str(exc.sqlstate)
        if isinstance(exc, asyncpg.InternalClientError):
            # The server's goodbye (57P01) arrived as the connection was used: asyncpg, still
            # consuming it, refuses the next command ("another operation is in progress").
            # The connection is unusable either way, so it is dropped as a dead one.
            return CONNECTION_GONE[0]
        exc = exc.__cause__
    return None


def _transient_as_operational(context: ExceptionContext) -> BaseException | None:
    """Raise transient server errors as OperationalError (503 in the API, a retry in a job).
    A dead connection also invalidates the pool, so a restarted server costs one failed
    request per process, not one per pooled connection."""
    state = _sqlstate(context.original_exception)
    if state is None or state[:2] not in TRANSIENT_SQLSTATE_CLASSES:
        return None
    if state in CONNECTION_GONE or state.startswith("08"):
        context.is_disconnect = True
    if context.is_pre_ping:
        return None  # the pool reconnects by itself
    return OperationalError(
        context.statement,
        context.parameters,
        context.original_exception,
        connection_invalidated=context.is_disconnect,
    )


def _command_timeout(settings: PostgresSettings) -> float | None:
    if not settings.statement_timeout_ms:
        return None
    return settings.statement_timeout_ms / 1000 + settings.connect_timeout_seconds


def create_engine(settings: PostgresSettings, *, application_name: str) -> AsyncEngine:
    engine = create_async_engine(
        settings.url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        # A restarted PostgreSQL leaves dead connections in the pool; pre-ping replaces them.
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.connect_timeout_seconds,
            # The server's statement_timeout cannot end a wait on a server that hangs (frozen,
            # or cut off by the network): the client gives up too, a little later.
            "command_timeout": _command_timeout(settings),
            "server_settings": {
                "application_name": application_name,
                "timezone": "UTC",  # timestamps leave as ...Z, as DANDI's do
                "statement_timeout": str(settings.statement_timeout_ms),
            },
        },
    )
    event.listen(engine.sync_engine, "handle_error", _transient_as_operational, retval=True)
    return engine


class Database:
    """The engine and session factory of one process, built at startup and disposed at exit."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        connections: int | None = None,
    ) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        # Request sessions queue fairly for the pool's connections (turns.py says why): as
        # many turns as the pool can open, its size without overflow when not told.
        pool = engine.pool
        self.turns = Turns(connections or (pool.size() if isinstance(pool, QueuePool) else 1))

    @classmethod
    def connect(cls, settings: PostgresSettings, *, application_name: str) -> Database:
        engine = create_engine(settings, application_name=application_name)
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        return cls(engine, sessionmaker, connections=settings.pool_size + settings.max_overflow)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
