"""End to end: the unmodified `dandi` client uploads NWB files, the draft becomes Valid, a
publish through the API gives a version whose metadata and manifests are right while
DataCite is down, its DOIs register by themselves once DataCite answers (the fake holds
findable DOIs whose payloads validate), and `dandi download` of the published version's URL
gives the same bytes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from doi.fake_datacite import FakeDataCite
from localstack import (
    BUCKET,
    PUBLISHABLE,
    approved_user,
    dandi,
    eventually,
    s3_settings,
    service_env,
)
from nwbfiles import write_nwb
from s3 import read_range

from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.storage import S3Storage

pytestmark = pytest.mark.slow


@pytest.fixture
def workers(
    servers: ServerUrls, database: str, api: str, fake_datacite: FakeDataCite
) -> Iterator[None]:
    port = int(api.split(":")[2].split("/", maxsplit=1)[0])
    env = {**service_env(servers, database, port), **fake_datacite.env()}
    env["DANDELION_DOI__RECONCILE_MINUTES"] = "1"
    procs = [
        subprocess.Popen([sys.executable, "-m", "dandelion_common.cli", "worker", queue], env=env)
        for queue in ("ingest", "doi")
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


def test_upload_publish_doi_and_download_the_published_version(
    servers: ServerUrls,
    database: str,
    api: str,
    workers: None,
    fake_datacite: FakeDataCite,
    tmp_path: Path,
) -> None:
    key = asyncio.run(approved_user(database, "publisher"))
    headers = {"Authorization": f"token {key}"}
    with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
        _publish_and_download(servers, api, key, client, fake_datacite, tmp_path)


def _publish_and_download(
    servers: ServerUrls,
    api: str,
    key: str,
    client: httpx.Client,
    fake_datacite: FakeDataCite,
    tmp_path: Path,
) -> None:
    created = client.post("/dandisets/", json={"name": "Published E2E", "metadata": PUBLISHABLE})
    assert created.status_code == 200, created.text
    identifier = created.json()["identifier"]
    port = api.split(":")[2].split("/", maxsplit=1)[0]
    work = tmp_path / "work"
    work.mkdir()
    fetched = dandi("download", "--download", "dandiset.yaml", "-o", str(work),
                    f"{api}/dandisets/{identifier}/", cwd=tmp_path)  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    local = work / identifier
    files = [f"sub-{s}/sub-{s}_ecephys.nwb" for s in ("p1", "p2")]
    for relative in files:
        (local / relative).parent.mkdir(parents=True, exist_ok=True)
        write_nwb(local / relative, subject_id=relative.split("/")[0][4:])
    uploaded = dandi("upload", "-i", api, cwd=local,
                     extra_env={f"127.0.0.1:{port}_API_KEY": key})  # fmt: skip
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr

    def valid() -> dict[str, Any] | None:
        info = client.get(f"/dandisets/{identifier}/versions/draft/info/").json()
        ok = info["status"] == "Valid" and not info["asset_validation_errors"]
        return info if ok else None

    eventually(valid, timeout=120, what="the draft and its assets to become Valid")

    fake_datacite.fail_with(503)  # DataCite is down while the archive publishes
    published = client.post(f"/dandisets/{identifier}/versions/draft/publish/",
                            json={"release_notes": "First."})  # fmt: skip
    assert (published.status_code, published.json()) == (202, None)

    def version() -> str | None:
        listed = client.get(f"/dandisets/{identifier}/versions/").json()["results"]
        return next((v["version"] for v in listed if v["version"] != "draft"), None)

    number = eventually(version, timeout=60, what="the published version")
    url = f"/dandisets/{identifier}/versions/{number}/"
    metadata = client.get(url).json()
    concept = f"{fake_datacite.prefix}/dandelion.{identifier}"
    assert metadata["doi"] == f"{concept}/{number}"
    assert (metadata["version"], metadata["releaseNotes"]) == (number, "First.")
    assert metadata["assetsSummary"]["numberOfFiles"] == 2
    draft = client.get(f"/dandisets/{identifier}/versions/draft/info/").json()
    assert draft["status"] == "Published"
    assert fake_datacite.records.get(metadata["doi"].lower()) is None

    location = metadata["manifestLocation"][0]
    assert location.split("/", 4)[3] == BUCKET  # an S3 URL: http://host/bucket/key
    key = location.split("/", 4)[4]
    manifest = eventually(lambda: asyncio.run(_read(servers, key)), timeout=60,
                          what="assets.yaml")  # fmt: skip
    assert sorted(a["path"] for a in yaml.safe_load(manifest)) == files

    fake_datacite.recover()  # the DOIs register by themselves (job retries, reconcile)
    from dandischema.datacite import validate_datacite

    for doi in (metadata["doi"], concept):

        def findable(doi: str = doi) -> bool | None:
            held = fake_datacite.records.get(doi.lower())
            return True if held is not None and held.state == "findable" else None

        eventually(findable, timeout=120, what=f"{doi} to be findable")
        validate_datacite({"data": {"attributes": fake_datacite.records[doi.lower()].attributes}})

    out = tmp_path / "down"
    out.mkdir()
    downloaded = dandi("download", "-o", str(out), f"{api}{url}", cwd=tmp_path)
    assert downloaded.returncode == 0, downloaded.stderr
    for relative in files:
        assert (out / identifier / relative).read_bytes() == (local / relative).read_bytes()


async def _read(servers: ServerUrls, key: str) -> bytes | None:
    """The object (the e2e bucket is private: the dev stack's bucket serves manifests
    anonymously, which tests/common/devstack checks)."""
    storage = await S3Storage.connect(s3_settings(servers))
    try:
        info = await storage.head(key)
        return None if info is None else await read_range(storage, key, 0, info.size - 1)
    finally:
        await storage.close()
