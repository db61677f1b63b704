"""Fixtures of the end-to-end API tests: a private database and an API process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest
from localstack import ensure_bucket, service_env

from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import answers_ok, free_port, wait_until


@pytest.fixture
def api(servers: ServerUrls, database: str) -> Iterator[str]:
    asyncio.run(ensure_bucket(servers))
    port = free_port()
    env = service_env(servers, database, port)
    env["DANDELION_API__PORT"] = str(port)
    proc = subprocess.Popen([sys.executable, "-m", "dandelion_common.cli", "api"], env=env)
    try:
        ready = f"http://127.0.0.1:{port}/readyz"
        wait_until(lambda: answers_ok(ready), timeout=60, what="the API")
        yield f"http://127.0.0.1:{port}/api"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
