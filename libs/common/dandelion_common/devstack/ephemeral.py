"""Throwaway backing servers (tests, benchmarks): started in a temporary folder on free
ports, or taken from the environment.

Set DANDELION_TEST_POSTGRES_URL, DANDELION_TEST_REDIS_URL and DANDELION_TEST_S3_URL (with
DANDELION_TEST_S3_ACCESS_KEY / _SECRET_KEY) to use servers you run yourself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from dandelion_common.devstack.process import Child, free_port, port_is_free, wait_until
from dandelion_common.devstack.servers import Postgres, Redis, SeaweedS3, public_prefixes
from dandelion_common.settings import (
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    Environment,
    PostgresSettings,
    RedisSettings,
    S3Settings,
    Settings,
)

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerUrls:
    postgres: str
    redis: str
    s3: str
    s3_access_key: str
    s3_secret_key: str

    def settings(self, *, bucket: str = "dandelion-test") -> Settings:
        return Settings(
            environment=Environment.TEST,
            postgres=PostgresSettings(url=self.postgres, pool_size=5),
            redis=RedisSettings(url=self.redis),
            s3=S3Settings(
                endpoint_url=self.s3,
                bucket=bucket,
                access_key_id=self.s3_access_key,
                secret_access_key=SecretStr(self.s3_secret_key),
            ),
        )


def s3_base_port() -> int:
    """A port p with p..p+4 and their +10000 twins free (SeaweedFS listens on all of them)."""
    for _ in range(50):
        base = free_port(HOST, span=5)
        if all(port_is_free(HOST, p + 10_000) for p in range(base, base + 5)):
            return base
    raise RuntimeError("no free port range for SeaweedFS")


@contextmanager
def ephemeral_servers() -> Iterator[ServerUrls]:
    env = os.environ
    if env.get("DANDELION_TEST_POSTGRES_URL"):
        yield ServerUrls(
            postgres=env["DANDELION_TEST_POSTGRES_URL"],
            redis=env["DANDELION_TEST_REDIS_URL"],
            s3=env["DANDELION_TEST_S3_URL"],
            s3_access_key=env.get("DANDELION_TEST_S3_ACCESS_KEY", DEV_S3_ACCESS_KEY),
            s3_secret_key=env.get("DANDELION_TEST_S3_SECRET_KEY", DEV_S3_SECRET_KEY),
        )
        return
    root = Path(tempfile.mkdtemp(prefix="dandelion-test-"))
    root.chmod(0o755)  # PostgreSQL runs as nobody when the tests run as root
    postgres = Postgres(root / "postgres", HOST, free_port(HOST), durable=False)
    redis = Redis(root / "redis", HOST, free_port(HOST), durable=False)
    # Open blobs and manifests of ServerUrls.settings()'s bucket are readable anonymously.
    prefixes = public_prefixes("dandelion-test")
    s3 = SeaweedS3(root / "s3", HOST, s3_base_port(), public_read_prefixes=prefixes)
    children: list[Child] = []
    try:
        for server in (postgres, redis, s3):
            child = server.child()
            children.append(child)
            child.start()
            wait_until(server.ready, timeout=60, what=f"{child.name} to start", child=child)
        postgres.create_database()
        yield ServerUrls(postgres.url, redis.url, s3.url, s3.access_key, s3.secret_key)
    finally:
        for child in reversed(children):
            child.stop()
        # Each session writes gigabytes (S3 volumes are preallocated); left behind, they fill
        # the disk until SeaweedFS has no capacity for new volumes.
        if not os.environ.get("DANDELION_KEEP_TEST_DATA"):
            shutil.rmtree(root, ignore_errors=True)
