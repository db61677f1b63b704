"""The unmodified `dandi` client against our API on a real port: ls and download give the
right listing and byte-identical files, for a whole dandiset and for one folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker

from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.migrate import upgrade
from dandelion_common.db.models import ApiToken, AssetBlob, User
from dandelion_common.db.session import create_engine
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import free_port, wait_until
from dandelion_common.settings import PostgresSettings, S3Settings
from dandelion_common.storage import S3Storage, blob_key

pytestmark = pytest.mark.slow

FILES = {
    "sub-mouse01/sub-mouse01_ses-1_ecephys.nwb": os.urandom(300_000),
    "sub-mouse01/sub-mouse01_ses-2_ecephys.nwb": os.urandom(12_345),
    "sub-mouse02/ses-a/sub-mouse02_ses-a_behavior.nwb": os.urandom(77),
    "README.txt": b"read me\n",
}
BUCKET = "dandelion-e2e"


def dandi_etag(data: bytes) -> str:
    """dandischema's etag of a file below the 64 MiB minimum part size: one part."""
    return (
        hashlib.md5(
            hashlib.md5(data, usedforsecurity=False).digest(), usedforsecurity=False
        ).hexdigest()
        + "-1"
    )


@pytest.fixture
def database(servers: ServerUrls) -> Iterator[str]:
    """A database of this test's own: the API process commits for real."""
    name = f"e2e_{uuid.uuid4().hex[:8]}"
    admin_dsn = servers.postgres.replace("postgresql+asyncpg", "postgresql")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    url = servers.postgres.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    asyncio.run(run(f"DROP DATABASE {name} WITH (FORCE)"))


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


@pytest.fixture
def api(servers: ServerUrls, database: str) -> Iterator[str]:
    asyncio.run(ensure_bucket(servers))
    port = free_port()
    env = {
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
    }
    proc = subprocess.Popen([sys.executable, "-m", "dandelion_common.cli", "api"], env=env)
    try:
        ready = f"http://127.0.0.1:{port}/readyz"
        wait_until(lambda: _ok(ready), timeout=60, what="the API")
        yield f"http://127.0.0.1:{port}/api"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def seed(servers: ServerUrls, database: str, api: str) -> str:
    """An owner, blobs in S3 through the storage module, assets created through the API."""
    storage = await S3Storage.connect(s3_settings(servers))
    engine = create_engine(PostgresSettings(url=database), application_name="e2e-seed")
    key = generate_api_key()
    blob_ids = {}
    try:
        async with async_sessionmaker(engine)() as session:
            user = User(
                username="e2e-owner", first_name="E", last_name="Owner", status=UserStatus.APPROVED
            )
            session.add(user)
            await session.flush()
            session.add(ApiToken(user_id=user.id, key_hash=hash_api_key(key)))
            for path, content in FILES.items():
                blob = AssetBlob(id=uuid.uuid4(), etag=dandi_etag(content), size=len(content))
                await storage.put(blob_key(blob.id), content)
                session.add(blob)
                blob_ids[path] = str(blob.id)
            await session.commit()
    finally:
        await storage.close()
        await engine.dispose()
    headers = {"Authorization": f"token {key}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        created = await client.post(
            "/dandisets/", json={"name": "E2E", "metadata": {"description": "e2e"}}
        )
        identifier = created.json()["identifier"]
        for path, blob_id in blob_ids.items():
            metadata = {"path": path, "encodingFormat": "application/x-nwb"}
            response = await client.post(
                f"/dandisets/{identifier}/versions/draft/assets/",
                json={"blob_id": blob_id, "metadata": metadata},
            )
            assert response.status_code == 200, response.text
    return str(identifier)


def dandi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DANDI_NO_ET": "1", "DANDI_CACHE": "ignore", "HOME": str(cwd)}
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


def test_dandi_ls_and_download(
    servers: ServerUrls, database: str, api: str, tmp_path: Path
) -> None:
    identifier = asyncio.run(seed(servers, database, api))
    url = f"{api}/dandisets/{identifier}/versions/draft/"

    listed = dandi("ls", "-r", "-f", "json", url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assets = {r["path"]: r["size"] for r in records if "asset_id" in r}
    assert assets == {p: len(c) for p, c in FILES.items()}
    dandiset = next(r for r in records if "asset_id" not in r)
    assert (dandiset["asset_count"], dandiset["size"]) == (
        len(FILES),
        sum(map(len, FILES.values())),
    )

    whole = tmp_path / "whole"
    whole.mkdir()
    downloaded = dandi("download", "-o", str(whole), url, cwd=tmp_path)
    assert downloaded.returncode == 0, downloaded.stderr
    for path, content in FILES.items():
        assert (whole / identifier / path).read_bytes() == content, path
    assert (whole / identifier / "dandiset.yaml").exists()

    folder = tmp_path / "folder"
    folder.mkdir()
    partial = dandi(
        "download",
        "-o",
        str(folder),
        f"{api}/dandisets/{identifier}/versions/draft/assets/?path=sub-mouse01/",
        cwd=tmp_path,
    )
    assert partial.returncode == 0, partial.stderr
    got = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert got == [
        "sub-mouse01/sub-mouse01_ses-1_ecephys.nwb",
        "sub-mouse01/sub-mouse01_ses-2_ecephys.nwb",
    ]
    for name in got:
        assert (folder / name).read_bytes() == FILES[name]
