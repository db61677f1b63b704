"""End to end with the unmodified `dandi` client: an OME-Zarr made with zarr-python (thousands
of small chunks, nested groups) uploads, ingests to the client's own checksum, validates and
downloads byte for byte; a second upload after an edit sends only the changed chunks; a
published version keeps its chunks while the draft's are changed and deleted, and the bucket
grows by the changed chunks only."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import zarr
from localstack import PUBLISHABLE, approved_user, dandi, eventually, s3_settings, service_env

from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.storage import S3Storage, zarr_key

pytestmark = pytest.mark.slow

ZARR_PATH = "sub-z1/sub-z1_sample.ome.zarr"


@pytest.fixture
def ingest_worker(servers: ServerUrls, database: str, api: str) -> Iterator[None]:
    port = int(api.split(":")[2].split("/", maxsplit=1)[0])
    argv = [sys.executable, "-m", "dandelion_common.cli", "worker", "ingest"]
    proc = subprocess.Popen(argv, env=service_env(servers, database, port))
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def write_ome_zarr(root: Path) -> None:
    """A two-level OME-Zarr image with a label image in a nested group: 2,368 files."""
    rng = np.random.default_rng(7)
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    axes = [{"name": a, "type": "space"} for a in "zyx"]
    datasets = [{"path": "0"}, {"path": "1"}]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": datasets}]
    for name, shape, chunks in (("0", (32, 64, 64), (2, 8, 8)), ("1", (16, 32, 32), (2, 4, 4))):
        array = group.create_array(name, shape=shape, chunks=chunks, dtype="uint8")
        array[:] = rng.integers(0, 255, size=shape, dtype="uint8")
    cells = group.create_group("labels").create_group("cells")
    for name, shape, chunks in (("0", (32, 64, 64), (4, 8, 8)), ("1", (16, 32, 32), (2, 4, 8))):
        array = cells.create_array(name, shape=shape, chunks=chunks, dtype="uint16")
        array[:] = rng.integers(1, 5, size=shape, dtype="uint16")


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def _object_versions(servers: ServerUrls, zarr_id: str) -> tuple[int, int]:
    """(object versions, delete markers) under the archive's prefix in the zarr bucket."""
    storage = await S3Storage.connect(s3_settings(servers))
    try:
        return await storage.zarr.count_versions(zarr_key(zarr_id))
    finally:
        await storage.close()


class Archive:
    """The test's view of one dandiset on the archive under test."""

    def __init__(self, api: str, key: str, client: httpx.Client, tmp_path: Path) -> None:
        self.api, self.key, self.client, self.tmp_path = api, key, client, tmp_path
        self.port = api.split(":")[2].split("/", maxsplit=1)[0]
        created = client.post("/dandisets/", json={"name": "Zarr E2E", "metadata": PUBLISHABLE})
        assert created.status_code == 200, created.text
        self.identifier: str = created.json()["identifier"]

    def dandi(self, *args: str, cwd: Path) -> None:
        done = dandi(*args, cwd=cwd, extra_env={f"127.0.0.1:{self.port}_API_KEY": self.key})
        assert done.returncode == 0, done.stdout + done.stderr

    def upload(self, local: Path) -> None:
        self.dandi("upload", "-i", self.api, cwd=local)

    def zarr_asset(self, version: str) -> dict[str, Any]:
        url = f"/dandisets/{self.identifier}/versions/{version}/assets/"
        (asset,) = self.client.get(url, params={"path": ZARR_PATH}).json()["results"]
        return dict(asset)

    def wait_valid(self) -> None:
        def valid() -> bool | None:
            info = self.client.get(f"/dandisets/{self.identifier}/versions/draft/info/").json()
            return True if info["status"] == "Valid" else None

        eventually(valid, timeout=180, what="the draft to become Valid")

    def download(self, version: str, name: str) -> Path:
        out = self.tmp_path / name
        out.mkdir()
        url = f"{self.api}/dandisets/{self.identifier}/versions/{version}/"
        self.dandi("download", "-o", str(out), url, cwd=self.tmp_path)
        return out / self.identifier / ZARR_PATH

    def publish(self) -> str:
        url = f"/dandisets/{self.identifier}/versions/draft/publish/"
        assert self.client.post(url).status_code == 202

        def version() -> str | None:
            listed = self.client.get(f"/dandisets/{self.identifier}/versions/").json()["results"]
            return next((v["version"] for v in listed if v["version"] != "draft"), None)

        return eventually(version, timeout=120, what="the published version")


def test_zarr_upload_edit_publish_and_download(
    servers: ServerUrls, database: str, api: str, ingest_worker: None, tmp_path: Path
) -> None:
    from dandi.support.digests import get_zarr_checksum

    key = asyncio.run(approved_user(database, "microscopist"))
    with httpx.Client(base_url=api, headers={"Authorization": f"token {key}"}, timeout=60) as c:
        archive = Archive(api, key, c, tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        archive.dandi("download", "--download", "dandiset.yaml", "-o", str(work),
                      f"{api}/dandisets/{archive.identifier}/", cwd=tmp_path)  # fmt: skip
        local = work / archive.identifier
        image = local / ZARR_PATH
        write_ome_zarr(image)
        files = len(tree(image))
        assert files > 2000

        # 1. Upload: the archive ingests to the checksum the client computed.
        archive.upload(local)
        zarr_id = archive.zarr_asset("draft")["zarr"]
        info = c.get(f"/zarr/{zarr_id}/").json()
        assert info["status"] == "Complete"
        assert info["checksum"] == get_zarr_checksum(image)
        assert info["file_count"] == files
        archive.wait_valid()
        assert tree(archive.download("draft", "first")) == tree(image)
        assert asyncio.run(_object_versions(servers, zarr_id)) == (files, 0)

        # 2. Edit two chunks: the second upload sends those two only.
        array = zarr.open_array(str(image / "0"), mode="r+")
        array[0:2, 0:8, 0:8] = 1  # not the fill value 0: zarr would delete the chunk file
        array = zarr.open_array(str(image / "labels" / "cells" / "1"), mode="r+")
        array[0:2, 0:4, 0:8] = 9
        archive.upload(local)
        assert c.get(f"/zarr/{zarr_id}/").json()["checksum"] == get_zarr_checksum(image)
        assert asyncio.run(_object_versions(servers, zarr_id)) == (files + 2, 0)
        archive.wait_valid()

        # 3. Publish, then change one chunk and delete another in the draft.
        published_tree = tree(image)
        version = archive.publish()
        snapshot = archive.zarr_asset(version)["zarr"]
        assert snapshot != zarr_id  # a published version serves its snapshot
        assert archive.zarr_asset("draft")["zarr"] == zarr_id
        array = zarr.open_array(str(image / "1"), mode="r+")
        array[0:2, 0:4, 0:4] = 1
        (image / "0" / "15.7.7").unlink()
        archive.upload(local)
        assert c.get(f"/zarr/{zarr_id}/").json()["checksum"] == get_zarr_checksum(image)
        # One new object version, one delete marker: nothing was copied at publish.
        assert asyncio.run(_object_versions(servers, zarr_id)) == (files + 3, 1)

        # 4. The published version still downloads its bytes; the draft downloads the edit.
        assert tree(archive.download(version, "published")) == published_tree
        archive.wait_valid()
        assert tree(archive.download("draft", "edited")) == tree(image)
        shutil.rmtree(tmp_path / "first")
