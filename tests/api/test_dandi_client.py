"""The unmodified `dandi` client against our API on a real port: ls and download give the
right listing and byte-identical files, for a whole dandiset and for one folder, also when
given the web pages' address of a dandiset."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from factories import dandi_etag
from localstack import assert_draft_becomes_valid, dandi, s3_settings, service_env
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import ApiToken, AssetBlob, User
from dandelion_common.db.session import create_engine
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import answers_ok, free_port, wait_until
from dandelion_common.settings import PostgresSettings
from dandelion_common.storage import S3Storage, blob_key

pytestmark = pytest.mark.slow

FILES = {
    "sub-mouse01/sub-mouse01_ses-1_ecephys.nwb": os.urandom(300_000),
    "sub-mouse01/sub-mouse01_ses-2_ecephys.nwb": os.urandom(12_345),
    "sub-mouse02/ses-a/sub-mouse02_ses-a_behavior.nwb": os.urandom(77),
    "README.txt": b"read me\n",
}


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


async def owner_key(database: str) -> str:
    """A fresh key for the seeded owner (only hashes are stored, so a new one is made)."""
    engine = create_engine(PostgresSettings(url=database), application_name="e2e-key")
    key = generate_api_key()
    try:
        async with async_sessionmaker(engine)() as session:
            token = await session.scalar(
                select(ApiToken)
                .join(User, User.id == ApiToken.user_id)
                .where(User.username == "e2e-owner")
            )
            assert token is not None
            token.key_hash = hash_api_key(key)
            await session.commit()
    finally:
        await engine.dispose()
    return key


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


@contextlib.contextmanager
def web_pages(servers: ServerUrls, database: str, api: str) -> Iterator[str]:
    """The web service's process in front of the API at `api`; yields its URL."""
    api_port = int(api.split(":")[2].split("/", maxsplit=1)[0])
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    env = service_env(servers, database, api_port) | {
        "DANDELION_WEB__PORT": str(port),
        "DANDELION_WEB__API_URL": f"http://127.0.0.1:{api_port}",
        "DANDELION_INSTANCE__WEB_URL": web,
    }
    proc = subprocess.Popen([sys.executable, "-m", "dandelion_common.cli", "web"], env=env)
    try:
        # /healthz: its readiness also wants the search API, which this test does not run.
        wait_until(lambda: answers_ok(f"{web}/healthz"), timeout=60, what="the web service")
        yield web
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dandi_ls_and_download_by_web_url(
    servers: ServerUrls, database: str, api: str, tmp_path: Path
) -> None:
    """The addresses people copy from their browser work with the client: it finds the API
    through the web origin's /server-info."""
    identifier = asyncio.run(seed(servers, database, api))
    with web_pages(servers, database, api) as web:
        url = f"{web}/dandiset/{identifier}/draft"
        listed = dandi("ls", "-r", "-f", "json", url, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        records = json.loads(listed.stdout)
        assert {r["path"] for r in records if "asset_id" in r} == set(FILES)
        downloaded = dandi("download", "-o", str(tmp_path), url, cwd=tmp_path)
        assert downloaded.returncode == 0, downloaded.stderr
        for path, content in FILES.items():
            assert (tmp_path / identifier / path).read_bytes() == content, path


def make_nwb(path: Path, subject_id: str) -> None:
    """A small real NWB file with what `dandi upload` reads: subject, session, one series."""
    from datetime import UTC, datetime

    import numpy as np
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.file import Subject

    nwb = NWBFile(
        session_description="e2e upload",
        identifier=str(uuid.uuid4()),
        session_start_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        subject=Subject(subject_id=subject_id, species="Mus musculus", sex="F", age="P90D"),
    )
    nwb.add_acquisition(
        TimeSeries(name="trace", data=np.arange(1000, dtype="int16"), unit="V", rate=1000.0)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_dandi_upload_then_download(
    servers: ServerUrls, database: str, api: str, tmp_path: Path
) -> None:
    """`dandi upload` of NWB files into a draft through our upload protocol, then download."""
    identifier = asyncio.run(seed(servers, database, api))
    port = api.split(":")[2].split("/", maxsplit=1)[0]
    key = asyncio.run(owner_key(database))
    env = {f"127.0.0.1:{port}_API_KEY": key}
    work = tmp_path / "work"
    work.mkdir()
    fetched = dandi(
        "download",
        "--download",
        "dandiset.yaml",
        "-o",
        str(work),
        f"{api}/dandisets/{identifier}/",
        cwd=tmp_path,
    )
    assert fetched.returncode == 0, fetched.stderr
    local = work / identifier
    files = {f"sub-{s}/sub-{s}_ecephys.nwb": s for s in ("up1", "up2")}
    for relative, subject in files.items():
        make_nwb(local / relative, subject)
    uploaded = dandi("upload", "--validation", "skip", "-i", api, cwd=local, extra_env=env)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    worker_env = service_env(servers, database, int(port))
    assert_draft_becomes_valid(api, identifier, key, uploaded=set(files), worker_env=worker_env)

    out = tmp_path / "down"
    out.mkdir()
    downloaded = dandi(
        "download",
        "-o",
        str(out),
        f"{api}/dandisets/{identifier}/versions/draft/assets/?path=sub-up",
        cwd=tmp_path,
    )
    assert downloaded.returncode == 0, downloaded.stderr
    for relative in files:
        assert (out / relative).read_bytes() == (local / relative).read_bytes(), relative
