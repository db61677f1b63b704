"""The ingest worker: blob checksums and metadata validation (NWB extraction is still to come)."""

from __future__ import annotations

from arq.worker import Function

from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.worker import ping_handler
from dandelion_ingest.checksum import sha256
from dandelion_ingest.tasks import validate_asset, validate_version

QUEUE = Queue.INGEST
FUNCTIONS: list[Function] = [ping_handler(QUEUE), sha256, validate_asset, validate_version]
