"""Upload row: `dandi upload` of one NWB file (1 GiB by default) through our API, against a
raw S3 multipart PUT of the same bytes to the same S3 server.

The client's wall time counts everything a user waits for: start-up, reading the NWB metadata,
its dandi-etag pass over the file, initialize, the part PUTs, complete, validate and the asset
POST (local validation is skipped). The raw PUT is the floor: the same bytes, the same part
size (64 MiB) and the same concurrency (5 parts in flight, the client's default `-J 5:5`), with
no hashing and no API in between.

BENCH_UPLOAD_MIB sets the size (default 1024). Run alone: `python -m bench.bench_dandi_upload`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from dandischema.digests.dandietag import DandiETag
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench.bench_foundation import process, service_env
from bench.table import Row, render
from dandelion_common.accounts import ensure_user, set_api_key
from dandelion_common.auth import generate_api_key
from dandelion_common.db.migrate import upgrade
from dandelion_common.db.session import create_engine
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.devstack.process import free_port
from dandelion_common.settings import PostgresSettings, S3Settings
from dandelion_common.storage import S3Storage, blob_key

MIB = 1024 * 1024
SIZE_MIB = int(os.environ.get("BENCH_UPLOAD_MIB", "1024"))
PART = 64 * MIB  # dandi's part size for files up to 625 GiB
PARTS_IN_FLIGHT = 5  # `dandi upload -J 5:5`: 5 part PUTs per file
BUCKET = "dandelion-bench-upload"
SUBJECT = "bench01"
REPO = Path(__file__).resolve().parent.parent


def write_file(path: Path) -> Path:
    """A real NWB file (pynwb) padded to about SIZE_MIB; tests/nwbfiles.py makes it."""
    # tests/ is not a package; the helper is shared with the end-to-end tests.
    sys.path.insert(0, str(REPO / "tests"))
    from nwbfiles import write_nwb

    path.parent.mkdir(parents=True)
    return write_nwb(path, subject_id=SUBJECT, data_bytes=SIZE_MIB * MIB)


async def fresh_database(urls: ServerUrls) -> str:
    """A database of the bench's own, so other benches' seeds (user, dandiset 1) don't clash."""
    name = f"bench_upload_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(urls.postgres.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    url = urls.postgres.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade, url)
    return url


async def drop_database(urls: ServerUrls, url: str) -> None:
    conn = await asyncpg.connect(urls.postgres.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")
    finally:
        await conn.close()


async def owner_key(database: str) -> str:
    engine = create_engine(PostgresSettings(url=database), application_name="bench-upload")
    key = generate_api_key()
    try:
        async with async_sessionmaker(engine)() as session:
            user, _ = await ensure_user(session, username="bench-uploader", approve=True)
            await set_api_key(session, user.id, key)
            await session.commit()
    finally:
        await engine.dispose()
    return key


async def create_dandiset(api: str, key: str) -> str:
    headers = {"Authorization": f"token {key}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        body = {"name": "upload bench", "metadata": {"description": "bench"}}
        response = await client.post("/dandisets/", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["identifier"])


def dandi_upload(api: str, key: str, dandiset: Path) -> float:
    """Wall seconds of `dandi upload` of the whole folder (one file), as a user runs it."""
    port = api.split(":")[2].split("/", maxsplit=1)[0]
    env = {
        **os.environ,
        f"127.0.0.1:{port}_API_KEY": key,
        "DANDI_NO_ET": "1",
        "DANDI_CACHE": "ignore",  # no cached etag: the client hashes the file, as on first upload
        "HOME": str(dandiset.parent),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    # Validation (pynwb + NWB Inspector) is skipped: it is local and not what this row measures.
    argv = [str(Path(sys.executable).parent / "dandi"), "upload", "--validation", "skip"]
    start = time.perf_counter()
    done = subprocess.run(
        [*argv, "-i", api], cwd=dandiset, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed


async def raw_multipart_put(storage: S3Storage, path: Path, size: int) -> float:
    """Wall seconds of a multipart PUT of the file's bytes, PARTS_IN_FLIGHT parts at a time."""
    key = f"bench/raw-{uuid.uuid4()}"
    offsets = list(range(0, size, PART))
    gate = asyncio.Semaphore(PARTS_IN_FLIGHT)
    fd = os.open(path, os.O_RDONLY)

    async def put(number: int, offset: int) -> tuple[int, str]:
        async with gate:
            data = await asyncio.to_thread(os.pread, fd, min(PART, size - offset), offset)
            return number, await storage.upload_part(key, upload_id, number, data)

    try:
        start = time.perf_counter()
        upload_id = await storage.create_multipart_upload(key)
        parts = await asyncio.gather(*(put(n, o) for n, o in enumerate(offsets, start=1)))
        await storage.complete_multipart_upload(key, upload_id, sorted(parts))
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    found = await storage.head(key)
    assert found is not None
    assert found.size == size, found
    await storage.delete(key)
    return elapsed


VALIDATED = """SELECT b.id AS blob, a.id AS asset, a.status FROM assets a
    JOIN asset_blobs b ON b.id = a.blob_id"""


async def validated_asset(database: str, *, within: float = 300) -> tuple[str, str, str]:
    """The uploaded blob's and asset's ids once the ingest worker has validated the asset
    (so deleting the object afterwards pulls it from under no job), and its status then
    (still Pending if it never was)."""
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql"))
    deadline = time.monotonic() + within
    try:
        while True:
            row = await conn.fetchrow(VALIDATED)
            assert row is not None, "the upload made no asset"
            if row["status"] in ("Valid", "Invalid") or time.monotonic() > deadline:
                return str(row["blob"]), str(row["asset"]), row["status"]
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def validation_runs(redis_url: str, asset_id: str) -> int:
    """How many validate_asset jobs ran for the asset (each leaves its result in Redis)."""
    redis = Redis.from_url(redis_url)
    try:
        await asyncio.sleep(1.5)  # a late request, if any, has run
        pattern = f"arq:result:validate_asset:{asset_id}*"
        return len([key async for key in redis.scan_iter(match=pattern)])
    finally:
        await redis.aclose()


def s3_settings(urls: ServerUrls) -> S3Settings:
    return S3Settings(
        endpoint_url=urls.s3, bucket=BUCKET, access_key_id=urls.s3_access_key,
        secret_access_key=SecretStr(urls.s3_secret_key),
    )  # fmt: skip


async def run(urls: ServerUrls) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="bench-dandi-upload-"))
    storage = await S3Storage.connect(s3_settings(urls))
    database = await fresh_database(urls)
    try:
        await storage.ensure_bucket()
        return await measure(urls, database, storage, work)
    finally:
        await storage.close()
        await drop_database(urls, database)
        shutil.rmtree(work, ignore_errors=True)


async def measure(urls: ServerUrls, database: str, storage: S3Storage, work: Path) -> list[Row]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = f"{base}/api"
    env = service_env(urls) | {
        "DANDELION_POSTGRES__URL": database,
        "DANDELION_S3__BUCKET": BUCKET,
        "DANDELION_API__PORT": str(port),
        "DANDELION_API__PUBLIC_URL": base,
    }
    dandiset = work / "dandiset"
    nwb = dandiset / f"sub-{SUBJECT}" / f"sub-{SUBJECT}_ecephys.nwb"
    start = time.perf_counter()
    size = (await asyncio.to_thread(write_file, nwb)).stat().st_size
    wrote = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.to_thread(DandiETag.from_file, nwb)
    hashed = time.perf_counter() - start
    with (
        process([sys.executable, "-m", "dandelion_common.cli", "api"], env, f"{base}/readyz"),
        process([sys.executable, "-m", "dandelion_common.cli", "worker", "ingest"], env),
    ):
        key = await owner_key(database)
        identifier = await create_dandiset(api, key)
        (dandiset / "dandiset.yaml").write_text(f"identifier: '{identifier}'\n")
        ours = await asyncio.to_thread(dandi_upload, api, key, dandiset)
        start = time.perf_counter()
        blob, asset, status = await validated_asset(database)
        valid_after = time.perf_counter() - start
        runs = await validation_runs(env["DANDELION_REDIS__URL"], asset)
    await storage.delete(blob_key(blob))
    raw = await raw_multipart_put(storage, nwb, size)
    print(
        f"{size / MIB:,.0f} MiB NWB file written in {wrote:.1f} s; its dandi-etag alone takes "
        f"{hashed:.1f} s; dandi upload {ours:.1f} s, the asset {status} {valid_after:.2f} s "
        f"later after {runs} validation run(s); raw multipart PUT {raw:.1f} s",
        file=sys.stderr,
    )
    mb = size / 1e6
    return [
        Row(
            f"dandi upload of a {size / 2**30:.2f} GiB NWB (client wall: start-up + etag + PUTs)",
            mb / ours, mb / raw, "raw S3 multipart PUT, 5 x 64 MiB parts in flight", "MB/s",
        ),
        # The wait a user sees after `dandi upload` returns (checksum, extraction, validation
        # of the asset), beside one local pass over the file (its dandi-etag).
        Row("upload end to asset Valid (same NWB)", valid_after, hashed,
            "one dandi-etag pass over the file", "s", higher_is_better=False),
        Row("validate_asset runs for that asset", runs, 1, "the least: one", "runs",
            higher_is_better=False),
    ]  # fmt: skip


def main() -> None:
    with ephemeral_servers() as urls:
        rows = asyncio.run(run(urls))
    print(render(rows))


if __name__ == "__main__":
    main()
