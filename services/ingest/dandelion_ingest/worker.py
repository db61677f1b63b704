"""The ingest worker."""

from __future__ import annotations

from arq.worker import Function

from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.worker import ping_handler

QUEUE = Queue.INGEST
FUNCTIONS: list[Function] = [ping_handler(QUEUE)]
