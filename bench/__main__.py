"""Run every benchmark against throwaway local servers and print one table."""

from __future__ import annotations

import asyncio

from bench import (
    bench_api,
    bench_dandi_upload,
    bench_extract,
    bench_foundation,
    bench_list_search,
    bench_load,
    bench_pipeline,
    bench_publish,
    bench_search,
    bench_sessions,
    bench_unembargo,
    bench_uploads,
    bench_web,
    bench_zarr,
)
from bench.table import Row, render
from dandelion_common.devstack.ephemeral import ServerUrls, ephemeral_servers


async def collect(urls: ServerUrls) -> list[Row]:
    uploads = [*bench_uploads.run(), *await bench_uploads.sha256_rows(urls)]
    ingest = [*await bench_extract.run(urls), *await bench_dandi_upload.run(urls)]
    api = [*await bench_pipeline.run(urls), *await bench_foundation.run(urls)]
    api += await bench_api.run(urls)
    api += await bench_list_search.run(urls)
    api += await bench_sessions.run(urls)
    load = await bench_load.run(urls)
    publish = [*await bench_publish.run(urls), *await bench_unembargo.run(urls)]
    zarr = await bench_zarr.run(urls)
    search = [*await bench_search.run(urls), *await bench_web.run(urls)]
    return [*uploads, *ingest, *api, *load, *publish, *zarr, *search]


def main() -> None:
    with ephemeral_servers() as urls:
        rows = asyncio.run(collect(urls))
    print(render(rows))


if __name__ == "__main__":
    main()
