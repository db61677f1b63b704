"""NWB extraction rows: bytes fetched from S3 and time to extract a 10 MiB and a 1 GiB NWB
file by presigned URL. The bytes must stay under 2 MB and not grow with the file; the time
is set against one plain GET of the whole object (what reading the data would cost).

Standalone: `python -m bench.bench_extract`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.bench_uploads import s3_settings
from bench.table import Row, render
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers
from dandelion_common.storage import S3Storage
from dandelion_ingest.nwb.extract import Extraction, extract_url

MiB = 1024 * 1024
SIZES = {"10 MiB": 10 * MiB, "1 GiB": 1024 * MiB}
LIMIT_MB = 2.0
PART = 64 * MiB
RUNS = 3  # the first extraction in a process also pays pynwb's namespace loading


def nwb_writer() -> Callable[..., Path]:
    """tests/nwbfiles.py's generator: the bench makes the same files the tests use."""
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from nwbfiles import write_nwb

    return write_nwb


async def upload(storage: S3Storage, path: Path) -> str:
    """Multipart upload from disk, one 64 MiB part in memory at a time; returns the key."""
    key = f"bench/nwb/{uuid.uuid4()}"
    upload_id = await storage.create_multipart_upload(key)
    parts: list[tuple[int, str]] = []
    with path.open("rb") as f:
        while data := f.read(PART):
            number = len(parts) + 1
            parts.append((number, await storage.upload_part(key, upload_id, number, data)))
    await storage.complete_multipart_upload(key, upload_id, parts)
    return key


async def full_get_seconds(url: str) -> float:
    """One streamed GET of the whole object, bytes discarded."""
    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=300) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        async for _ in response.aiter_bytes(PART):
            pass
    return time.perf_counter() - start


async def measure(url: str, size: int) -> tuple[Extraction, float]:
    """The last extraction (its byte counts) and the median time of RUNS extractions."""
    seconds, extraction = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        extraction = await asyncio.to_thread(extract_url, url, size)
        seconds.append(time.perf_counter() - start)
    assert extraction is not None
    return extraction, statistics.median(seconds)


async def rows_for(storage: S3Storage, label: str, path: Path) -> list[Row]:
    size = path.stat().st_size  # noqa: ASYNC240  # one stat in a bench
    key = await upload(storage, path)
    try:
        url = await storage.presign_internal_get(key, expires=3600)
        extraction, seconds = await measure(url, size)
        get_seconds = await full_get_seconds(url)
    finally:
        await storage.delete(key)
    fetched = max(extraction.bytes_fetched, extraction.bytes_read) / 1e6
    return [
        Row(
            f"NWB extract: MB read from S3, {label} file ({extraction.requests} GETs)",
            fetched, LIMIT_MB, "limit: 2 MB whatever the size", "MB", higher_is_better=False,
        ),
        Row(
            f"NWB extract: time, {label} file (median of {RUNS})", seconds * 1000,
            get_seconds * 1000, "one GET of the whole object", "ms", higher_is_better=False,
        ),
    ]  # fmt: skip


async def run(urls: ServerUrls) -> list[Row]:
    write_nwb = nwb_writer()
    storage = await S3Storage.connect(s3_settings(urls))
    rows: list[Row] = []
    try:
        await storage.ensure_bucket()
        with tempfile.TemporaryDirectory(prefix="bench-nwb-") as tmp:
            for label, size in SIZES.items():
                path = write_nwb(Path(tmp) / "bench.nwb", subject_id="bench01", data_bytes=size)
                rows += await rows_for(storage, label, path)
                path.unlink()  # one big file on disk at a time
    finally:
        await storage.close()
    return rows


def main() -> None:
    with ephemeral_servers() as urls:
        rows = asyncio.run(run(urls))
    print(render(rows))


if __name__ == "__main__":
    main()
