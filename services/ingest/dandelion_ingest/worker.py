"""The ingest worker: metadata validation now; checksums and NWB extraction come with the
ingest issue."""

from __future__ import annotations

from arq.worker import Function

from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.worker import ping_handler
from dandelion_ingest.tasks import validate_asset, validate_version

QUEUE = Queue.INGEST
FUNCTIONS: list[Function] = [ping_handler(QUEUE), validate_asset, validate_version]
