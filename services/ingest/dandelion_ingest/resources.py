"""The ingest worker's clients: the database, the job queue, S3, and its NWB readers.

Two reader pools, one per purpose: slow inspections never queue the quick extractions that
validation waits for. Each holds as many reader processes as configured
(`DANDELION_WORKER__INGEST_EXTRACTION_READERS`, `..._INSPECTION_READERS`), started on first
use, once per worker: they are made here at startup, not in a job's context, which arq copies
for each job (a pool first made there was made again, with a new reader process, by every job).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from arq.connections import ArqRedis

from dandelion_common.jobs.resources import Context, WorkerResources, base_clients, worker_resources
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage
from dandelion_ingest.pool import ReaderPool


@dataclass
class IngestResources(WorkerResources):
    storage: S3Storage
    extraction_readers: ReaderPool = field(default_factory=ReaderPool)
    inspection_readers: ReaderPool = field(default_factory=ReaderPool)

    @classmethod
    async def open(cls, settings: Settings, redis: ArqRedis, *, name: str) -> Self:
        storage = await S3Storage.connect(settings.s3)
        extraction, inspection = reader_pools(settings)
        return cls(
            **base_clients(settings, redis, name=name),
            storage=storage,
            extraction_readers=extraction,
            inspection_readers=inspection,
        )

    async def close(self) -> None:
        self.inspection_readers.close()
        self.extraction_readers.close()
        await self.storage.close()
        await super().close()


def reader_pools(settings: Settings) -> tuple[ReaderPool, ReaderPool]:
    """The extraction and inspection pools as the settings size them (for the worker and for
    jobs run by hand)."""
    worker = settings.worker
    limit = worker.ingest_reader_max_tasks
    return (
        ReaderPool(worker.ingest_extraction_readers, max_tasks_per_child=limit),
        ReaderPool(worker.ingest_inspection_readers, max_tasks_per_child=limit),
    )


def ingest_resources(ctx: Context) -> IngestResources:
    return worker_resources(ctx, IngestResources)
