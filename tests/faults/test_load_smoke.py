"""The load bench, short: `bench/bench_load.py`'s mixed read/write workload with 50 clients for
10 s against a real API process ends without a single error (5xx, timeout, connection error)
and without a request the API refused (the workload's own calls must be right)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dandelion_common.devstack.ephemeral import ServerUrls

pytestmark = pytest.mark.slow  # starts the API and runs it under load

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = {"asset create", "asset list", "dandiset", "dandiset create", "dandiset list",
             "draft", "folders", "metadata PUT", "search", "versions"}  # fmt: skip


def bench_summary(servers: ServerUrls, redis_url: str) -> dict[str, Any]:
    """Run the bench as `make bench` would, on the session's servers and the test's Redis."""
    env = {
        **os.environ,
        "DANDELION_TEST_POSTGRES_URL": servers.postgres,
        "DANDELION_TEST_REDIS_URL": redis_url,  # the load's jobs stay out of the session's queues
        "DANDELION_TEST_S3_URL": servers.s3,
        "DANDELION_TEST_S3_ACCESS_KEY": servers.s3_access_key,
        "DANDELION_TEST_S3_SECRET_KEY": servers.s3_secret_key,
        "BENCH_LOAD_CLIENTS": "50",
        "BENCH_LOAD_SECONDS": "10",
        "BENCH_LOAD_WORKERS": "",  # the API alone: workers take no part in answering
    }
    argv = [sys.executable, "-m", "bench.bench_load", "--summary"]
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return summary


def test_fifty_clients_of_mixed_reads_and_writes_meet_no_error(
    servers: ServerUrls, redis_url: str
) -> None:
    summary = bench_summary(servers, redis_url)

    assert summary["errors"] == {}
    assert summary["rejected"] == {}
    assert set(summary["endpoints"]) == ENDPOINTS  # every kind of request was made
    assert summary["requests"] >= 50
