"""The local stack for end-to-end tests: service processes of our own, talking to the session's
real servers, driven by the unmodified `dandi` client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker

from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import ApiToken, User
from dandelion_common.db.session import create_engine
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.settings import PostgresSettings, S3Settings
from dandelion_common.storage import S3Storage

BUCKET = "dandelion-e2e"
T = TypeVar("T")


def s3_settings(servers: ServerUrls) -> S3Settings:
    return S3Settings(
        endpoint_url=servers.s3,
        bucket=BUCKET,
        access_key_id=servers.s3_access_key,
        secret_access_key=SecretStr(servers.s3_secret_key),
    )


async def ensure_bucket(servers: ServerUrls) -> None:
    storage = await S3Storage.connect(s3_settings(servers))
    try:
        await storage.ensure_bucket()
    finally:
        await storage.close()


def service_env(servers: ServerUrls, database: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DANDELION_POSTGRES__URL": database,
        "DANDELION_REDIS__URL": servers.redis,
        "DANDELION_S3__ENDPOINT_URL": servers.s3,
        "DANDELION_S3__BUCKET": BUCKET,
        "DANDELION_S3__ACCESS_KEY_ID": servers.s3_access_key,
        "DANDELION_S3__SECRET_ACCESS_KEY": servers.s3_secret_key,
        "DANDELION_API__PORT": str(port),
        "DANDELION_API__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DANDELION_LOGGING__LEVEL": "WARNING",
        "DANDELION_WORKER__POLL_DELAY_SECONDS": "0.05",
    }


def dandi(
    *args: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DANDI_NO_ET": "1",
        "DANDI_CACHE": "ignore",
        "HOME": str(cwd),
        **(extra_env or {}),
    }
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    dandi_bin = str(Path(sys.executable).parent / "dandi")
    return subprocess.run(
        [dandi_bin, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


PUBLISHABLE = {
    "description": "Uploaded by the dandi client in a test.",
    "license": ["spdx:CC-BY-4.0"],
    "contributor": [
        {
            "schemaKey": "Person",
            "name": "Owner, E",
            "email": "e2e@example.org",
            "roleName": ["dcite:ContactPerson"],
            "includeInCitation": True,
            "affiliation": [],
        }
    ],
}


def assert_draft_becomes_valid(
    api: str, identifier: str, key: str, *, uploaded: set[str], worker_env: dict[str, str]
) -> None:
    """With an ingest worker running, checksums and validation make the uploads Valid.

    (The seeded blobs were inserted directly, without the upload protocol that asks for their
    checksum, so they rightly stay Pending.)"""
    headers = {"Authorization": f"token {key}"}
    info_url = f"{api}/dandisets/{identifier}/versions/draft/info/"
    metadata = {**httpx.get(info_url, headers=headers).json()["metadata"], **PUBLISHABLE}
    edited = httpx.put(
        f"{api}/dandisets/{identifier}/versions/draft/",
        headers=headers,
        json={"name": "E2E", "metadata": metadata},
    )
    assert edited.status_code == 200, edited.text
    argv = [sys.executable, "-m", "dandelion_common.cli", "worker", "ingest"]
    worker = subprocess.Popen(argv, env=worker_env)
    try:
        deadline = time.monotonic() + 60
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            info = httpx.get(info_url, headers=headers).json()
            waiting = {e["path"] for e in info["asset_validation_errors"]} & uploaded
            if info["status"] == "Valid" and not waiting:
                break
            time.sleep(0.5)
        assert info["status"] == "Valid", info
        assert not {e["path"] for e in info["asset_validation_errors"]} & uploaded, info
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def eventually(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """The first non-None answer of `probe`, asked every half second for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := probe()) is not None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def approved_user(database: str, username: str) -> str:
    """An approved user with an API key, straight into the test's database; returns the key."""
    engine = create_engine(PostgresSettings(url=database), application_name=f"e2e-{username}")
    key = generate_api_key()
    try:
        async with async_sessionmaker(engine)() as session:
            user = User(username=username, first_name=username.title(), last_name="E2E",
                        email=f"{username}@example.org", status=UserStatus.APPROVED)  # fmt: skip
            session.add(user)
            await session.flush()
            session.add(ApiToken(user_id=user.id, key_hash=hash_api_key(key)))
            await session.commit()
    finally:
        await engine.dispose()
    return key
