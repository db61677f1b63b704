"""The unmodified `dandi` client end to end against the running stack: `dandi organize` real
pynwb files of three subjects (ecephys, ophys, one file over 200 MiB), `dandi upload` them into
a draft that becomes Valid, `dandi download` gives byte-identical files, and uploading the
same files again stores no second blob (initialize answers 409 with the existing blob)."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from localstack import BUCKET, assert_draft_becomes_valid, dandi, s3_settings, service_env
from nwbfiles import write_nwb
from sqlalchemy.ext.asyncio import async_sessionmaker

from dandelion_common.accounts import ensure_user, set_api_key
from dandelion_common.auth import generate_api_key
from dandelion_common.db.session import create_engine
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.settings import PostgresSettings
from dandelion_common.storage import blob_key

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
BIG = 200 * MIB

# Raw files as a lab would name them, and the arguments write_nwb makes them with.
RAW: dict[str, dict[str, Any]] = {
    "2024-01-02_rig1.nwb": {"subject_id": "mouse01", "session_id": "day1", "data_bytes": BIG},
    "2024-01-02_2p.nwb": {
        "subject_id": "mouse02", "session_id": "day1", "ecephys": False, "ophys": True,
    },
    "2024-01-03_rig2.nwb": {"subject_id": "mouse03", "session_id": "day1", "behavior": True},
    "2024-01-04_rig2+2p.nwb": {"subject_id": "mouse03", "session_id": "day2", "ophys": True},
}  # fmt: skip
# dandi's naming rules: sub-<id>[_ses-<id>]_<modalities>.nwb under sub-<id>/. mouse03 has two
# sessions, so the session is needed to tell files apart and then appears in every name;
# modalities come from the neurodata types (sorted, joined with "+").
ORGANIZED = {
    "sub-mouse01/sub-mouse01_ses-day1_ecephys.nwb",
    "sub-mouse02/sub-mouse02_ses-day1_ophys.nwb",
    "sub-mouse03/sub-mouse03_ses-day1_behavior+ecephys.nwb",
    "sub-mouse03/sub-mouse03_ses-day2_ecephys+ophys.nwb",
}


async def owner_and_dandiset(database: str, api: str) -> tuple[str, str]:
    """An approved user with a fresh API key, and an empty dandiset it owns."""
    engine = create_engine(PostgresSettings(url=database), application_name="e2e-organize")
    key = generate_api_key()
    try:
        async with async_sessionmaker(engine)() as session:
            user, _ = await ensure_user(
                session, username="e2e-owner", first_name="E", last_name="Owner", approve=True
            )
            await set_api_key(session, user.id, key)
            await session.commit()
    finally:
        await engine.dispose()
    headers = {"Authorization": f"token {key}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        body = {"name": "E2E organize", "metadata": {"description": "e2e"}}
        created = await client.post("/dandisets/", json=body)
        assert created.status_code == 200, created.text
    return key, str(created.json()["identifier"])


async def blob_objects(servers: ServerUrls) -> set[str]:
    """Every object key under `blobs/` in the bucket (the storage module has no listing)."""
    settings = s3_settings(servers)
    config = AioConfig(signature_version="s3v4", s3={"addressing_style": "path"})
    keys: set[str] = set()
    async with get_session().create_client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key.get_secret_value(),
        config=config,
    ) as client:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="blobs/")
        async for page in pages:
            keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


async def row_counts(database: str) -> tuple[int, int]:
    """Rows in asset_blobs and in uploads (an initialize that starts a multipart adds one)."""
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql"))
    try:
        blobs = await conn.fetchval("SELECT count(*) FROM asset_blobs")
        uploads = await conn.fetchval("SELECT count(*) FROM uploads")
    finally:
        await conn.close()
    return int(blobs), int(uploads)


def draft_assets(api: str, identifier: str) -> dict[str, tuple[str, str]]:
    """Asset path → (asset id, blob id) in the draft."""
    url = f"{api}/dandisets/{identifier}/versions/draft/assets/"
    results = httpx.get(url, timeout=30).json()["results"]
    return {a["path"]: (a["asset_id"], a["blob"]) for a in results}


@contextmanager
def ingest_worker(env: dict[str, str]) -> Iterator[None]:
    """An ingest worker for the whole test, so checksums and extraction overlap the client."""
    argv = [sys.executable, "-m", "dandelion_common.cli", "worker", "ingest"]
    worker = subprocess.Popen(argv, env=env)
    try:
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def wait_until_ingested(api: str, identifier: str, *, within: float = 300) -> None:
    """Wait until the worker is done with every draft asset: validated and inspected.

    assert_draft_becomes_valid allows 60 s from its metadata edit, but its validate_version
    job queues behind the NWB extraction and inspection jobs, which on a 2-core machine take
    longer than that for four files; this wait takes them out of its budget.
    """
    assets = f"{api}/dandisets/{identifier}/versions/draft/assets/"
    ids = [a["asset_id"] for a in httpx.get(assets, timeout=30).json()["results"]]
    deadline = time.monotonic() + within
    for asset_id in ids:
        while True:
            state = httpx.get(f"{assets}{asset_id}/validation/", timeout=30).json()
            if state["status"] not in ("Pending", "Validating") and (
                state["advisory_findings"] is not None
            ):
                break
            assert time.monotonic() < deadline, f"asset {asset_id} not ingested: {state}"
            time.sleep(1)


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def nwb_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.nwb")}


@pytest.mark.timeout(600)
def test_organize_upload_download_reupload(
    servers: ServerUrls, database: str, api: str, tmp_path: Path
) -> None:
    key, identifier = asyncio.run(owner_and_dandiset(database, api))
    port = api.split(":")[2].split("/", maxsplit=1)[0]
    auth_env = {f"127.0.0.1:{port}_API_KEY": key}

    fetched = dandi(
        "download", "--download", "dandiset.yaml", "-o", str(tmp_path),
        f"{api}/dandisets/{identifier}/", cwd=tmp_path,
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    local = tmp_path / identifier
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, options in RAW.items():
        write_nwb(raw / name, **options)

    # move: the dandiset holds real files (the default `auto` would symlink to raw/). -J 1:
    # one process reads the four files' metadata in half the time a pool takes to start.
    organized = dandi(
        "organize", "-J", "1", "-d", str(local), "-f", "move", str(raw), cwd=tmp_path
    )  # fmt: skip
    assert organized.returncode == 0, organized.stdout + organized.stderr
    assert nwb_files(local) == ORGANIZED
    assert not nwb_files(raw)
    big = local / "sub-mouse01/sub-mouse01_ses-day1_ecephys.nwb"
    assert big.stat().st_size >= BIG

    worker_env = service_env(servers, database, int(port))
    with ingest_worker(worker_env):
        # Default `--validation require`: pynwb and NWB Inspector (dandi config) pass the files.
        uploaded = dandi("upload", "-i", api, str(local), cwd=tmp_path, extra_env=auth_env)
        assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
        wait_until_ingested(api, identifier)
        assert_draft_becomes_valid(api, identifier, key, uploaded=ORGANIZED, worker_env=worker_env)

    out = tmp_path / "download"
    out.mkdir()
    downloaded = dandi("download", "-o", str(out), f"{api}/dandisets/{identifier}/", cwd=tmp_path)
    assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
    assert nwb_files(out / identifier) == ORGANIZED
    for path in ORGANIZED:
        assert sha256(out / identifier / path) == sha256(local / path), path

    before = draft_assets(api, identifier)
    assert set(before) == ORGANIZED
    objects = asyncio.run(blob_objects(servers))
    assert {blob_key(blob) for _, blob in before.values()} <= objects
    counts = asyncio.run(row_counts(database))
    # `force` re-sends every file: initialize answers 409 with the stored blob's id, and the
    # client attaches that blob without uploading a byte. (Validation passed above already.)
    again = dandi(
        "upload", "--existing", "force", "--validation", "skip", "-i", api, str(local),
        cwd=tmp_path, extra_env=auth_env,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    after = draft_assets(api, identifier)
    assert set(after) == ORGANIZED
    for path, (asset_id, blob) in after.items():
        assert asset_id != before[path][0], f"{path} was not uploaded again"
        assert blob == before[path][1], f"{path} got a new blob"
    assert asyncio.run(blob_objects(servers)) == objects
    assert asyncio.run(row_counts(database)) == counts
