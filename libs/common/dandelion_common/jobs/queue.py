"""The producer side: an arq Redis pool built at startup."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis
from arq.connections import RedisSettings as ArqRedisSettings
from arq.jobs import Job
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dandelion_common.jobs.contracts import JobContract, P
from dandelion_common.settings import RedisSettings

# Redis is away (down, restarting, unreachable): worth waiting for, never a bug.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


def arq_redis_settings(settings: RedisSettings) -> ArqRedisSettings:
    redis = ArqRedisSettings.from_dsn(settings.url)
    redis.conn_timeout = int(max(1, settings.connect_timeout_seconds))
    redis.conn_retries = 0
    return redis


class JobQueue:
    """Enqueues jobs by contract. Use `enqueue_after_commit` from request and job code."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    @classmethod
    async def connect(cls, settings: RedisSettings) -> JobQueue:
        redis = await create_pool(arq_redis_settings(settings))
        # Redis may be briefly down; readiness reports it and each call fails fast.
        redis.connection_pool.connection_kwargs["socket_timeout"] = settings.connect_timeout_seconds
        return cls(redis)

    async def enqueue(self, contract: JobContract[P], payload: P, **options: Any) -> Job | None:
        """Enqueue now; returns None when a job with the same deterministic id exists."""
        now = time.time()
        if contract.debounce_seconds:
            window_end = (contract.window(now) + 1) * contract.debounce_seconds
            options.setdefault("_defer_until", datetime.fromtimestamp(window_end, UTC))
        return await self.redis.enqueue_job(
            contract.name,
            _job_id=contract.job_id(payload, now=now),
            _queue_name=contract.queue_name,
            **options,
            **payload.model_dump(mode="json"),
        )

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()
