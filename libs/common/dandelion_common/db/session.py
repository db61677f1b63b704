"""Engine and session factory. Services take a session and never commit; the request
dependency or the job runner is the one commit point."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from dandelion_common.settings import PostgresSettings


def create_engine(settings: PostgresSettings, *, application_name: str) -> AsyncEngine:
    return create_async_engine(
        settings.url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        # A restarted PostgreSQL leaves dead connections in the pool; pre-ping replaces them.
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.connect_timeout_seconds,
            "server_settings": {
                "application_name": application_name,
                "timezone": "UTC",  # timestamps leave as ...Z, as DANDI's do
                "statement_timeout": str(settings.statement_timeout_ms),
            },
        },
    )


class Database:
    """The engine and session factory of one process, built at startup and disposed at exit."""

    def __init__(self, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker

    @classmethod
    def connect(cls, settings: PostgresSettings, *, application_name: str) -> Database:
        engine = create_engine(settings, application_name=application_name)
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
