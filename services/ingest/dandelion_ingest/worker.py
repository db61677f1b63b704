"""The ingest worker: blob checksums, NWB extraction and inspection, validation, summaries,
Zarr ingests."""

from __future__ import annotations

from arq.worker import Function

from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.worker import CronFactory, StartupCheck, ping_handler
from dandelion_ingest.checksum import sha256
from dandelion_ingest.embargo import unembargo
from dandelion_ingest.extraction import extract, inspect, start_readers
from dandelion_ingest.gc import gc_cron
from dandelion_ingest.manifests import manifests
from dandelion_ingest.publish import publish
from dandelion_ingest.reconcile import reconcile_cron
from dandelion_ingest.summary import summarize_version
from dandelion_ingest.tasks import validate_asset, validate_version
from dandelion_ingest.zarr import check_zarr_bucket_versioned, ingest_zarr

QUEUE = Queue.INGEST
FUNCTIONS: list[Function] = [
    ping_handler(QUEUE),
    sha256,
    extract,
    inspect,
    validate_asset,
    validate_version,
    summarize_version,
    publish,
    manifests,
    unembargo,
    ingest_zarr,
]
# Built from settings at startup (the period is configured).
CRON_JOBS: list[CronFactory] = [gc_cron, reconcile_cron]
STARTUP_CHECKS: list[StartupCheck] = [check_zarr_bucket_versioned, start_readers]
